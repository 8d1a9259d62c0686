package turn

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/rs/zerolog"
)

// startConfigured starts a server on loopback with cfg's limits (Secret, addresses, allow list
// and logger filled in).
func startConfigured(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Secret, cfg.UDPAddr, cfg.TCPAddr = testSecret, "127.0.0.1:0", "127.0.0.1:0"
	cfg.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// tryAllocate makes a pion TURN client with a fresh credential for identity and reports
// whether an allocation succeeds.
func tryAllocate(t *testing.T, s *Server, identity string) error {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_, _, err = tryAllocateOver(t, s, conn, s.UDPAddr().String(), identity)
	return err
}

// TestGroupAndServerQuotas: identities of one group (a user, a guest's address) share the
// group's quota, however many identities they farm; all groups share the server's cap; each
// refusal is counted.
func TestGroupAndServerQuotas(t *testing.T) {
	s := startConfigured(t, Config{GroupQuota: Quota{Allocations: 3}, MaxAllocations: 5})
	for _, id := range []string{"peer-1.a203.0.113.9", "peer-2.a203.0.113.9", "peer-3.a203.0.113.9"} {
		if err := tryAllocate(t, s, id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if err := tryAllocate(t, s, "peer-4.a203.0.113.9"); err == nil {
		t.Fatal("a fourth identity of the group got an allocation beyond the group's quota of 3")
	}
	for _, id := range []string{"peer-5.u7", "peer-6.u7"} {
		if err := tryAllocate(t, s, id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if err := tryAllocate(t, s, "peer-7.u8"); err == nil {
		t.Fatal("an allocation beyond the server's cap of 5")
	}
	st := s.Stats().Quotas
	if st.RefusedGroup != 1 || st.RefusedServer != 1 || st.RefusedIdentity != 0 {
		t.Fatalf("stats %+v, want one group and one server refusal", st)
	}
}

// TestEndIdentity: ending an identity ends its allocations (its relay stops relaying) and
// refuses its credentials afterwards; other identities are untouched.
func TestEndIdentity(t *testing.T) {
	s := startConfigured(t, Config{MaxTTL: time.Hour})
	echo := udpEcho(t)
	send := func(relay net.PacketConn) bool {
		if _, err := relay.WriteTo([]byte("ping"), echo.LocalAddr()); err != nil {
			return false
		}
		_ = relay.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 16)
		n, _, err := relay.ReadFrom(buf)
		return err == nil && string(buf[:n]) == "ping"
	}
	_, ended := allocateOver(t, s, listenUDP(t), s.UDPAddr().String(), "peer-gone.u1")
	_, kept := allocateOver(t, s, listenUDP(t), s.UDPAddr().String(), "peer-kept.u1")
	if !send(ended) || !send(kept) {
		t.Fatal("relays do not echo before the end")
	}
	s.EndIdentity("peer-gone.u1")
	deadline := time.Now().Add(5 * time.Second)
	for s.Allocations() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d allocations after ending one of two", s.Allocations())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if send(ended) {
		t.Fatal("the ended identity's relay still relays")
	}
	if !send(kept) {
		t.Fatal("the other identity's relay stopped")
	}
	if err := tryAllocate(t, s, "peer-gone.u1"); err == nil {
		t.Fatal("an ended identity got a new allocation")
	}
	if st := s.Stats().Quotas; st.Ended != 1 || st.EndedAllocations != 1 || st.RefusedEnded == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTCPConnectionLimits: TCP connections that say nothing are closed after FirstRequest, and
// one address gets at most PerAddress at once; the listener keeps serving.
func TestTCPConnectionLimits(t *testing.T) {
	s := startConfigured(t, Config{Conns: ConnLimits{FirstRequest: 300 * time.Millisecond, PerAddress: 4}})
	var conns []net.Conn
	for range 6 {
		c, err := net.Dial("tcp", s.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns = append(conns, c)
	}
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	// The two beyond the cap are closed at once; the four within it when they stay silent.
	for i, c := range conns[4:] {
		if !closedWithin(c, 200*time.Millisecond) {
			t.Fatalf("connection %d beyond the per-address cap stayed open", 5+i)
		}
	}
	for i, c := range conns[:4] {
		if !closedWithin(c, 2*time.Second) {
			t.Fatalf("silent connection %d was not closed", i+1)
		}
	}
	st := s.Stats().Conns
	if st.RefusedAddress != 2 || st.TimedOut != 4 {
		t.Fatalf("stats %+v, want 2 refused and 4 timed out", st)
	}
	// A client that speaks gets served over TCP.
	c, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client, _ := allocateOver(t, s, turn.NewSTUNConn(c), s.TCPAddr().String(), "peer-tcp.u1")
	if client == nil {
		t.Fatal("no client")
	}
}
