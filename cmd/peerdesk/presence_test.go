package main

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
)

// peerOptions are the client options of every Go peer of these tests.
func peerOptions(t testing.TB, opts ...client.Option) []client.Option {
	return append([]client.Option{client.WithSettingEngine(*loopbackEngine()), client.WithLogger(testLogger(t, false))}, opts...)
}

// joinConcurrently runs every join at once and returns the sessions in order; each is closed
// when the test ends. It may only fail the test after all of them returned.
func joinConcurrently(t *testing.T, joins ...func() (*client.Session, error)) []*client.Session {
	t.Helper()
	out := make([]*client.Session, len(joins))
	errs := make([]error, len(joins))
	var wg sync.WaitGroup
	for i, join := range joins {
		wg.Go(func() { out[i], errs[i] = join() })
	}
	wg.Wait()
	for i, s := range out {
		if s != nil {
			t.Cleanup(func() { _ = s.Close() })
		} else {
			t.Fatalf("join %d: %v", i, errs[i])
		}
	}
	return out
}

// waitRosters waits until every session's roster is want (Seq aside).
func waitRosters(ctx context.Context, t *testing.T, want []wire.Participant, sessions map[string]*client.Session) {
	t.Helper()
	for who, s := range sessions {
		err := s.WaitRoster(ctx, func(r client.Roster) bool { return slices.Equal(r.Participants, want) })
		if err != nil {
			t.Fatalf("%s: roster %+v, want %+v: %v", who, s.Roster().Participants, want, err)
		}
	}
}

// TestPresenceConvergesUnderConcurrentJoinsAndLeaves: the owner, a logged-in member, two
// anonymous guests (one read-only, one with full access) and the owner's second tab join at
// once, then some leave at once: every participant's roster converges to the truth, grouped
// by identity with the right counts, roles and read-only flags.
func TestPresenceConvergesUnderConcurrentJoinsAndLeaves(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cookie := h.login(ctx)
	owner := h.join(ctx)
	if err := owner.WaitRoster(ctx, func(r client.Roster) bool {
		return slices.Equal(r.Participants, []wire.Participant{{Name: testAdmin, Role: "owner", Connections: 1}})
	}); err != nil {
		t.Fatalf("the owner alone: roster %+v: %v", owner.Roster(), err)
	}
	if _, err := h.st.CreateUser(ctx, "bob", testPassword, false); err != nil {
		t.Fatal(err)
	}
	bobCookie, err := client.Login(ctx, h.url, "bob", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	_, viewURL := h.shareLink(ctx, cookie, owner, h.newProfile(ctx, cookie, "Watch only", true).ID)
	_, fullURL := h.shareLink(ctx, cookie, owner, h.newProfile(ctx, cookie, "Hands on", false).ID)

	ss := joinConcurrently(t,
		func() (*client.Session, error) {
			return client.JoinShare(ctx, viewURL, peerOptions(t, client.WithCookie(bobCookie))...)
		},
		func() (*client.Session, error) { return client.JoinShare(ctx, viewURL, peerOptions(t)...) },
		func() (*client.Session, error) { return client.JoinShare(ctx, fullURL, peerOptions(t)...) },
		func() (*client.Session, error) {
			return client.Join(ctx, h.url, h.connID, cookie, peerOptions(t)...)
		},
	)
	bob, viewGuest, fullGuest, tab2 := ss[0], ss[1], ss[2], ss[3]
	all := map[string]*client.Session{"owner": owner, "bob": bob, "read-only guest": viewGuest, "full guest": fullGuest, "owner's second tab": tab2}
	waitRosters(ctx, t, []wire.Participant{
		{Name: "Anonymous", Role: "guest", ReadOnly: false, Connections: 2},
		{Name: testAdmin, Role: "owner", ReadOnly: false, Connections: 2},
		{Name: "bob", Role: "member", ReadOnly: true, Connections: 1},
	}, all)

	var wg sync.WaitGroup
	for _, s := range []*client.Session{fullGuest, tab2} {
		wg.Go(func() { _ = s.Close() })
	}
	wg.Wait()
	delete(all, "full guest")
	delete(all, "owner's second tab")
	waitRosters(ctx, t, []wire.Participant{
		{Name: "Anonymous", Role: "guest", ReadOnly: true, Connections: 1},
		{Name: testAdmin, Role: "owner", ReadOnly: false, Connections: 1},
		{Name: "bob", Role: "member", ReadOnly: true, Connections: 1},
	}, all)

	// The owner's events told of the leaves as counts that fell.
	left := map[string]int{}
	for len(left) < 2 {
		select {
		case ev := <-owner.Events():
			for _, p := range ev.Left {
				left[p.Name] = p.Connections
			}
		case <-ctx.Done():
			t.Fatalf("the owner's presence events told of the leaves %v only", left)
		}
	}
	if left["Anonymous"] != 1 || left[testAdmin] != 1 {
		t.Fatalf("left counts %v, want Anonymous and %s down to 1", left, testAdmin)
	}
}

// cuttableConn is a UDP socket that can be cut: from then on it drops every packet both ways
// without an error, as a dead network does, while its process and WebSocket live on, until
// it is restored. Given to a client as its only ICE socket (a UDP mux), it lets a test break
// a peer connection's path without any leave and without a test hook in the client.
type cuttableConn struct {
	net.PacketConn
	cut atomic.Bool // set: the path is cut; cleared: restored
}

// cuttableEngine returns a loopback setting engine whose ICE goes through one cuttable UDP
// socket, closed when the test ends (after the sessions made before, cleanups running in
// reverse).
func cuttableEngine(t *testing.T) (*webrtc.SettingEngine, *cuttableConn) {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &cuttableConn{PacketConn: udp}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	se := loopbackEngine()
	se.SetICEUDPMux(mux)
	return se, conn
}

// ReadFrom returns the next packet received while the path is not cut; others are dropped.
func (c *cuttableConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

// WriteTo sends b, or pretends to while the path is cut.
func (c *cuttableConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestPresenceDropsAbruptlyLostPeer: a guest whose network dies without any leave (its
// WebSocket stays open) drops off the roster once its peer connection is given up: its ICE
// restarts keep it present for the relay's restart grace (5 s here, from the first restart,
// which comes after ICE called the path disconnected), so within 20 s.
func TestPresenceDropsAbruptlyLostPeer(t *testing.T) {
	const grace = 5 * time.Second
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, restartGrace: grace})
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	cookie := h.login(ctx)
	owner := h.join(ctx)
	_, url := h.shareLink(ctx, cookie, owner, h.newProfile(ctx, cookie, "Watch only", true).ID)

	se, conn := cuttableEngine(t)
	guest := h.guest(ctx, url, client.WithSettingEngine(*se))
	anonymous := func(n int) func(client.Roster) bool {
		return func(r client.Roster) bool { return r.Connections("Anonymous") == n }
	}
	if err := owner.WaitRoster(ctx, anonymous(1)); err != nil {
		t.Fatalf("the guest never appeared: roster %+v: %v", owner.Roster(), err)
	}

	conn.cut.Store(true)
	cutAt := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := owner.WaitRoster(wctx, anonymous(0)); err != nil {
		t.Fatalf("the lost guest still on the roster %v after the cut: %+v: %v", time.Since(cutAt), owner.Roster(), err)
	}
	took := time.Since(cutAt)
	t.Logf("lost guest dropped %v after the cut", took.Round(time.Millisecond))
	if took < grace {
		t.Fatalf("dropped %v after the cut, before the restart grace of %v could end", took, grace)
	}
	if err := guest.Err(); err != nil {
		t.Fatalf("the guest's session ended (%v): it should have lost only its peer connection", err)
	}
	if r := owner.Roster(); !slices.Equal(r.Participants, []wire.Participant{{Name: testAdmin, Role: "owner", Connections: 1}}) {
		t.Fatalf("roster %+v, want the owner alone", r.Participants)
	}
}
