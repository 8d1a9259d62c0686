package turn

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/rs/zerolog"

	"peerdesk/internal/pionlog"
)

const testSecret = "0123456789abcdef-test-secret"

// startServer runs an embedded server with a UDP listener on addr (ephemeral port), relay
// sockets bound to bind and advertised as relayIP, and the allow-list.
func startServer(t *testing.T, addr, bind string, relayIP net.IP, allow ...string) *Server {
	t.Helper()
	cfg := Config{Secret: testSecret, UDPAddr: addr, TCPAddr: addr, RelayIP: relayIP, RelayBind: bind, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)}
	for _, a := range allow {
		cfg.Allow = append(cfg.Allow, netip.MustParsePrefix(a))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// allocate makes a pion TURN client with a fresh credential for identity and allocates a
// relay on s.
func allocate(t *testing.T, s *Server, identity string) *turn.Client {
	t.Helper()
	network, local := "udp4", "127.0.0.1:0"
	if s.UDPAddr().(*net.UDPAddr).IP.To4() == nil {
		network, local = "udp6", "[::1]:0"
	}
	conn, err := net.ListenPacket(network, local)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c, _ := allocateOver(t, s, conn, s.UDPAddr().String(), identity)
	return c
}

// allocateOver makes a pion TURN client on conn (a UDP socket, or a stream wrapped by
// turn.NewSTUNConn) talking to the server at addr with a fresh credential for identity, and
// allocates a relay; it returns the client and the relay socket.
func allocateOver(t *testing.T, s *Server, conn net.PacketConn, addr, identity string) (*turn.Client, net.PacketConn) {
	t.Helper()
	c, relay, err := tryAllocateOver(t, s, conn, addr, identity)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	return c, relay
}

// tryAllocateOver is allocateOver that returns the allocation's error.
func tryAllocateOver(t *testing.T, s *Server, conn net.PacketConn, addr, identity string) (*turn.Client, net.PacketConn, error) {
	t.Helper()
	creds, err := NewCredentials(testSecret, 0, s.URLs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ice, _ := creds.ICEServers(identity)
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr,
		Username: ice[0].Username, Password: ice[0].Credential, Conn: conn, RTO: 200 * time.Millisecond,
		LoggerFactory: pionlog.Factory{Log: zerolog.New(zerolog.NewTestWriter(t))},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err == nil {
		t.Cleanup(func() { _ = relay.Close() })
	}
	return c, relay, err
}

// TestDenyListThroughPionClient asks a real pion TURN client for permissions to every
// kind of internal address: the server refuses them unless allow-listed, and its own
// (advertised) address too, while public addresses pass.
func TestDenyListThroughPionClient(t *testing.T) {
	// Relay sockets on loopback, advertised as a public address (a 1:1 NAT set-up), so that
	// "own address" is tested apart from "loopback".
	v4 := startServer(t, "127.0.0.1:0", "127.0.0.1", net.ParseIP("203.0.114.7"), "127.0.0.1/32", "10.9.0.0/16")
	v6 := startServer(t, "[::1]:0", "::1", net.ParseIP("2001:4860:1::7"), "fd00:9::/32")
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", true}, // allow-listed
		{"127.0.0.2", false},
		{"127.255.255.254", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.1.2.3", false},
		{"10.9.1.1", true}, // allow-listed
		{"172.16.0.1", false},
		{"172.31.255.254", false},
		{"192.168.1.1", false},
		{"100.64.0.1", false},
		{"100.127.255.254", false},
		{"169.254.169.254", false},
		{"169.254.1.1", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"::ffff:169.254.169.254", false}, // IPv4-mapped: goes on the wire as IPv4
		{"203.0.114.7", false},            // the server's own (advertised) address
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"::1", false},
		{"::", false},
		{"::127.0.0.1", false}, // IPv4-compatible
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fd00:9::1", true}, // allow-listed
		{"fe80::1", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"2001::1", false},       // Teredo
		{"2002:7f00:1::", false}, // 6to4 of 127.0.0.1
		{"100::1", false},
		{"64:ff9b::7f00:1", false},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", true},    // NAT64 of 8.8.8.8
		{"2001:4860:1::7", false},     // the server's own address
		{"2001:4860:4860::8888", true},
	}
	c4, c6 := allocate(t, v4, "peer-deny4"), allocate(t, v6, "peer-deny6")
	for _, tc := range cases {
		ip := net.ParseIP(tc.addr)
		c := c4
		if ip.To4() == nil {
			c = c6
		}
		err := c.CreatePermission(&net.UDPAddr{IP: ip, Port: 9})
		if (err == nil) != tc.ok {
			t.Errorf("CreatePermission(%s) = %v, want allowed %v", tc.addr, err, tc.ok)
		}
	}
}

// TestPolicyUnmapsIPv4 checks the 16-byte forms the wire never carries for IPv4 peers.
func TestPolicyUnmapsIPv4(t *testing.T) {
	p := &relayPolicy{own: ownAddresses(net.ParseIP("127.0.0.1"))}
	for _, s := range []string{"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "::ffff:100.64.0.1"} {
		if p.permit(net.ParseIP(s).To16()) {
			t.Errorf("permit(%s) = true", s)
		}
	}
	if !p.permit(net.ParseIP("::ffff:8.8.8.8").To16()) {
		t.Error("permit(::ffff:8.8.8.8) = false")
	}
	if p.permit(net.IP{1, 2, 3}) {
		t.Error("permit of a 3-byte IP = true")
	}
}
