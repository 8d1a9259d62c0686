package turn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/rs/zerolog"
)

// selfSigned returns a TLS certificate for name and 127.0.0.1, signed by its own key, and a
// pool trusting it.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// udpEcho runs a UDP echo peer on 127.0.0.1 until the test ends.
func udpEcho(t *testing.T) net.PacketConn {
	t.Helper()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = peer.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() {
		_ = peer.Close()
		<-done
	})
	return peer
}

// TestTURNSAllocateAndRelay: the embedded server with only a TURNS listener (a self-signed
// certificate made here) lets a real pion TURN client, over a verified TLS connection,
// allocate a UDP relay and relay to an allow-listed loopback peer and back; its URLs name the
// TLS listener by the certificate's name.
func TestTURNSAllocateAndRelay(t *testing.T) {
	const name = "turn.peerdesk.test"
	cert, pool := selfSigned(t, name)
	s, err := New(Config{
		Secret:  testSecret,
		TLSAddr: "127.0.0.1:0",
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		TLSName: name,
		RelayIP: net.IPv4(127, 0, 0, 1),
		Allow:   []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Logger:  zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if s.UDPAddr() != nil || s.TCPAddr() != nil || s.TLSAddr() == nil {
		t.Fatalf("listeners udp %v tcp %v tls %v, want TLS only", s.UDPAddr(), s.TCPAddr(), s.TLSAddr())
	}
	want := "turns:" + net.JoinHostPort(name, port(s.TLSAddr())) + "?transport=tcp"
	if urls := s.URLs(); !slices.Equal(urls, []string{want}) {
		t.Fatalf("URLs %v, want [%s]", urls, want)
	}

	// The client verifies the certificate: the name it was made for, through the pool.
	conn, err := tls.Dial("tcp", s.TLSAddr().String(), &tls.Config{ServerName: name, RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if st := conn.ConnectionState(); !st.HandshakeComplete || len(st.PeerCertificates) == 0 || !st.PeerCertificates[0].Equal(cert.Leaf) {
		t.Fatal("the TLS handshake did not present the server's certificate")
	}
	_, relay := allocateOver(t, s, turn.NewSTUNConn(conn), s.TLSAddr().String(), "peer-turns")
	if n := s.Allocations(); n != 1 {
		t.Fatalf("%d allocations, want 1", n)
	}
	relayAddr := relay.LocalAddr().(*net.UDPAddr)
	if !relayAddr.IP.Equal(net.IPv4(127, 0, 0, 1)) || relayAddr.Port == 0 {
		t.Fatalf("relayed address %v, want 127.0.0.1:port", relayAddr)
	}

	peer := udpEcho(t)
	msg := []byte("peerdesk over TURNS")
	if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
		t.Fatalf("relay write: %v", err)
	}
	if err := relay.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no echo through the relay: %v", err)
	}
	if !bytes.Equal(buf[:n], msg) || from.String() != peer.LocalAddr().String() {
		t.Fatalf("relay read %q from %v, want %q from %v", buf[:n], from, msg, peer.LocalAddr())
	}
}
