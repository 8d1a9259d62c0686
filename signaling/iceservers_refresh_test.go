package signaling

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"peerdesk/signaling/proto"
	"peerdesk/signaling/turn"
)

// TestRefreshICE: a socket gets fresh TURN credentials at 80% of the lifetime of those it has,
// every lifetime again, each one new, and none once the socket is gone. In synctest's fake
// time: an hour of refreshes takes milliseconds.
func TestRefreshICE(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 10 * time.Minute
		creds, err := turn.NewCredentials("refresh-test-secret-0123", ttl, []string{"turn:127.0.0.1:3478"}, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{ice: creds, now: time.Now}
		const identity = "peer-p1" + turn.GroupSeparator + "u1"
		first, expires := s.iceServers(identity)
		ws := &recorder{}
		ctx, cancel := context.WithCancel(t.Context())
		stop := s.refreshICE(ctx, ws, identity, expires)
		start := time.Now()

		seen := map[string]bool{first[0].Username: true}
		for i := 1; i <= 6; i++ {
			time.Sleep(ttl * 4 / 5) // fake time: the refresh is due now
			synctest.Wait()
			if n := len(ws.types()); n != i {
				t.Fatalf("%d refreshes after %v, want %d", n, time.Since(start), i)
			}
			m := ws.last()
			if m.Type != proto.TypeICEServers || len(m.ICEServers) != 1 || seen[m.ICEServers[0].Username] {
				t.Fatalf("refresh %d: %+v, want new credentials", i, m)
			}
			seen[m.ICEServers[0].Username] = true
		}
		cancel()
		stop()
		time.Sleep(ttl)
		if n := len(ws.types()); n != 6 {
			t.Fatalf("%d refreshes after the socket closed, want 6", n)
		}
	})
}
