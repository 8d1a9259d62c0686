package signaling_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"peerdesk/signaling/proto"
)

// TestSignalingBudget: a peer that floods offers and candidates gets a rate-limited error and
// is disconnected; the agent gets no more than the peer's budget of them and stays connected,
// and another peer's signaling still goes through.
func TestSignalingBudget(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  proto.Message
		max  int // the most the agent may get: the burst
	}{
		{"offers", proto.Message{Type: proto.TypeOffer, SDP: "v=0 " + strings.Repeat("x", 1000)}, 16},
		{"candidates", proto.Message{Type: proto.TypeCandidate, Candidate: &proto.Candidate{Candidate: "candidate:1 1 udp 1 192.0.2.1 5000 typ host"}}, 128},
		// 4 KiB candidates: the byte budget (256 KiB) runs out before the candidate count.
		{"bytes", proto.Message{Type: proto.TypeCandidate, Candidate: &proto.Candidate{Candidate: "candidate:" + strings.Repeat("y", 4096)}}, 64},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newRelayEnv(t)
			agent := e.agent(e.token, e.desk)
			alice := e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
			aliceID := expectJoin(t, agent, proto.Identity{Name: "alice", Role: proto.RoleOwner})
			bob := e.peer(e.bob, e.desk.ID, proto.Identity{Name: "bob", Role: proto.RoleMember}, proto.StateHostAvailable)
			bobID := expectJoin(t, agent, proto.Identity{Name: "bob", Role: proto.RoleMember})

			for range 3000 {
				if err := alice.WriteMessage(websocket.TextMessage, c.msg.Encode()); err != nil {
					break // closed by the server
				}
			}
			expectError(t, alice, proto.CodeRateLimited)
			if code := expectClosed(t, alice); code != websocket.ClosePolicyViolation {
				t.Fatalf("flooding peer closed with %d, want %d", code, websocket.ClosePolicyViolation)
			}
			// The agent got at most the burst of alice's frames, then her leave; then bob's
			// offer goes through: the agent is still connected.
			send(t, bob, proto.Message{Type: proto.TypeOffer, SDP: "v=0 bob"})
			got := 0
			for {
				m, err := read(t, agent)
				if err != nil {
					t.Fatalf("the agent: %v", err)
				}
				if m.Type == proto.TypeLeave && m.Peer == aliceID {
					continue
				}
				if m.Peer == bobID && m.Type == proto.TypeOffer {
					break
				}
				if m.Peer != aliceID {
					t.Fatalf("agent got %+v", m)
				}
				got++
			}
			if got > c.max {
				t.Fatalf("the agent got %d of alice's %s, want at most %d", got, c.name, c.max)
			}
			if n := e.srv.Stats().PeersOverBudget; n != 1 {
				t.Fatalf("%d peers over budget, want 1", n)
			}
			t.Logf("the agent got %d of the flood", got)
		})
	}
}
