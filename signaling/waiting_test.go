package signaling_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
)

// TestWaitingRoom: through a link whose profile admits each guest, a guest waits: it is told
// so and gets nothing of the session (no hello; the agent never hears of it, its offer goes
// nowhere); the owner sees it waiting with its name and address and lets it in — it then joins
// like any guest — or turns another away, who is told so; a guest cannot admit anyone, and a
// guest nobody lets in is turned away after the timeout.
func TestWaitingRoom(t *testing.T) {
	signaling.SetAdmitTimeout(t, 2*time.Second)
	e := newShareEnv(t)
	owner, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	var p profileJSON
	e.api("POST", fmt.Sprintf("/api/connections/%d/profiles", e.desk.ID), e.root, `{"name":"Door","admit":true}`, http.StatusCreated, &p)
	_, key := e.link(e.alice, sid, p.ID)
	dial := func(name string) *websocket.Conn {
		c, resp, err := websocket.DefaultDialer.Dial(e.wsURL("/ws/peer?share="+url.QueryEscape(key)+"&name="+url.QueryEscape(name)), nil)
		if err != nil {
			t.Fatalf("dial: %v (%v)", err, status(resp))
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	waitingFor := func(names ...string) []proto.Waiter {
		t.Helper()
		m := expect(t, owner, proto.TypeWaiting)
		if len(m.Waiting) != len(names) {
			t.Fatalf("waiting %+v, want %v", m.Waiting, names)
		}
		for i, w := range m.Waiting {
			if w.Name != names[i] || w.Peer == "" || w.Address != "127.0.0.1" {
				t.Fatalf("waiting %+v, want %v", m.Waiting, names)
			}
		}
		return m.Waiting
	}

	ana := dial("Ana")
	if m := expect(t, ana, proto.TypeState); m.State != proto.StateWaiting || m.Message != "Waiting for the host to let you in" {
		t.Fatalf("the waiting guest got %+v", m)
	}
	send(t, ana, proto.Message{Type: proto.TypeOffer, SDP: "v=0"}) // goes nowhere
	waitingFor("Ana (guest)")
	bob := dial("Bob")
	expectState(t, bob, proto.StateWaiting)
	w := waitingFor("Ana (guest)", "Bob (guest)")

	send(t, ana, proto.Message{Type: proto.TypeAdmit, Peer: w[1].Peer, Allow: true}) // not hers to decide
	expectError(t, ana, proto.CodeBadMessage)

	send(t, owner, proto.Message{Type: proto.TypeAdmit, Peer: w[0].Peer, Allow: true})
	e.hello(ana, proto.Identity{Name: "Ana (guest)", Role: proto.RoleGuest}, false) // the agent's first word of her: a join
	waitingFor("Bob (guest)")
	send(t, owner, proto.Message{Type: proto.TypeAdmit, Peer: w[1].Peer, Allow: false})
	expectEnded(t, bob, "The host did not let you in")
	waitingFor()
	send(t, owner, proto.Message{Type: proto.TypeAdmit, Peer: w[1].Peer, Allow: true})
	expectError(t, owner, proto.CodeUnknownPeer)

	cy := dial("Cy")
	expectState(t, cy, proto.StateWaiting)
	waitingFor("Cy (guest)")
	start := time.Now()
	expectEnded(t, cy, "Nobody let you in; try again later")
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("turned away after %v, want about the 2 s timeout", el)
	}
	waitingFor()
}
