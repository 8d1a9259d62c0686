package signaling

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// The hub's rules, tested on their own: sockets are recorders, timers run in synctest's fake
// time.

// recorder is a conn that keeps what the hub sends it.
type recorder struct {
	mu     sync.Mutex
	frames []proto.Message
	code   int  // the close code; 0 while open
	full   bool // trySend refuses, as a full queue does
}

func (r *recorder) send(frame []byte) {
	m, err := proto.Decode(frame)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, m)
}

func (r *recorder) trySend(frame []byte) bool {
	r.mu.Lock()
	full := r.full
	r.mu.Unlock()
	if !full {
		r.send(frame)
	}
	return !full
}

func (r *recorder) close(code int, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.code = code
}

// types returns the types of the frames received, states as "state:STATE".
func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.frames {
		t := m.Type
		if t == proto.TypeState {
			t += ":" + m.State
		}
		out = append(out, t)
	}
	return out
}

func (r *recorder) last() proto.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames[len(r.frames)-1]
}

func (r *recorder) closeCode() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.code
}

// hubScene is a hub with one connection's live session and what ended sessions.
type hubScene struct {
	h     *hub
	conn  store.Connection
	s     *session
	mu    sync.Mutex
	ended []string // the reasons onEnd was given
}

const hubGrace = 10 * time.Second

func newHubScene(t *testing.T) *hubScene {
	sc := &hubScene{conn: store.Connection{ID: 7, Name: "desk"}}
	sc.h = newHub(zerolog.Nop(), time.Now, hubGrace, func(_ SessionID, reason string) {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		sc.ended = append(sc.ended, reason)
	}, new(atomic.Uint64))
	sc.s = sc.h.startSession(newSessionID(), sc.conn, store.User{ID: 1, Username: "alice"}, time.Now())
	t.Cleanup(sc.h.close)
	return sc
}

func (sc *hubScene) agent() (*agent, *recorder) {
	r := &recorder{}
	a := &agent{conn: sc.conn, ws: r}
	sc.h.addAgent(a)
	return a, r
}

// peer adds a peer of role through link (0: the connection); it reports whether it joined.
func (sc *hubScene) peer(role string, link store.LinkID, maxGuests int) (*peer, *recorder, bool) {
	r := &recorder{}
	p := &peer{id: newPeerID(), sess: sc.s, link: link, identity: proto.Identity{Name: role, Role: role}, ws: r}
	return p, r, sc.h.addPeer(p, maxGuests)
}

func (sc *hubScene) reasons() []string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]string(nil), sc.ended...)
}

// TestHubMessageOrder: an agent sees hello, then a peer's join, then its offer; a peer sees
// hello, then the host's state; an agent that comes later is told of the peers already there.
func TestHubMessageOrder(t *testing.T) {
	sc := newHubScene(t)
	_, ar := sc.agent()
	p, pr, ok := sc.peer(proto.RoleOwner, 0, 0)
	if !ok {
		t.Fatal("the owner was refused")
	}
	if ref := sc.h.peerMessage(p, proto.Message{Type: proto.TypeOffer, SDP: "v=0"}); ref != nil {
		t.Fatalf("offer refused: %+v", ref)
	}
	if got := ar.types(); !slices.Equal(got, []string{"hello", "join", "offer"}) || ar.last().Peer != string(p.id) {
		t.Errorf("agent got %v (last %+v)", got, ar.last())
	}
	if got := pr.types(); !slices.Equal(got, []string{"hello", "state:host-available"}) {
		t.Errorf("peer got %v", got)
	}

	late := &recorder{}
	sc.h.addAgent(&agent{conn: sc.conn, ws: late})
	if got := late.types(); !slices.Equal(got, []string{"hello", "join"}) {
		t.Errorf("the agent that replaced the first got %v", got)
	}
	if ar.closeCode() != proto.CloseReplaced {
		t.Errorf("the replaced agent was closed with %d", ar.closeCode())
	}
	if got := pr.types(); !slices.Equal(got[2:], []string{"state:host-unavailable", "state:host-available"}) {
		t.Errorf("the peer got %v around the replacement", got)
	}
}

// TestHubAgentQueueFull: a peer whose frame finds the agent's queue full is closed as over
// budget; the agent is not.
func TestHubAgentQueueFull(t *testing.T) {
	sc := newHubScene(t)
	_, ar := sc.agent()
	p, pr, _ := sc.peer(proto.RoleOwner, 0, 0)
	ar.mu.Lock()
	ar.full = true
	ar.mu.Unlock()
	sc.h.peerMessage(p, proto.Message{Type: proto.TypeOffer, SDP: "v=0"})
	if m := pr.last(); m.Type != proto.TypeError || m.Code != proto.CodeRateLimited || pr.closeCode() != websocket.ClosePolicyViolation {
		t.Errorf("the peer got %+v, closed %d", m, pr.closeCode())
	}
	if ar.closeCode() != 0 || !sc.h.online(sc.conn.ID) {
		t.Error("the agent was closed")
	}
}

// TestHubGuestLimitAndRevoke: a link takes at most its guests; revoking it ends them and
// refuses new ones, and leaves the owner alone.
func TestHubGuestLimitAndRevoke(t *testing.T) {
	sc := newHubScene(t)
	sc.agent()
	_, owner, _ := sc.peer(proto.RoleOwner, 0, 0)
	const link store.LinkID = 3
	if !sc.h.addLink(sc.s.id, link, time.Time{}) {
		t.Fatal("addLink on a live session failed")
	}
	_, first, ok := sc.peer(proto.RoleGuest, link, 1)
	if !ok {
		t.Fatal("the first guest was refused")
	}
	if _, second, ok := sc.peer(proto.RoleGuest, link, 1); ok || second.last().Message != msgGuestLimit || second.closeCode() != websocket.CloseNormalClosure {
		t.Errorf("the guest over the limit: joined %v, got %+v, closed %d", ok, second.last(), second.closeCode())
	}
	sc.h.revokeLinks(link)
	if m := first.last(); m.State != proto.StateEnded || m.Message != msgLinkRevoked || first.closeCode() != websocket.CloseNormalClosure {
		t.Errorf("the revoked link's guest got %+v, closed %d", m, first.closeCode())
	}
	if _, late, ok := sc.peer(proto.RoleGuest, link, 0); ok || late.last().Message != msgLinkRevoked {
		t.Errorf("a guest of the revoked link joined %v: %+v", ok, late.last())
	}
	if owner.closeCode() != 0 {
		t.Error("revoking a link closed the owner")
	}
}

// TestHubOwnerGrace: the session outlives its owner's last peer for the grace period, not a
// moment longer; an owner back in time keeps it.
func TestHubOwnerGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := newHubScene(t)
		owner, _, _ := sc.peer(proto.RoleOwner, 0, 0)
		_, member, _ := sc.peer(proto.RoleMember, 0, 0)

		sc.h.removePeer(owner) // a reload
		time.Sleep(hubGrace - time.Millisecond)
		back, _, _ := sc.peer(proto.RoleOwner, 0, 0)
		time.Sleep(time.Hour)
		synctest.Wait()
		if r := sc.reasons(); len(r) != 0 {
			t.Fatalf("the session ended although the owner came back: %v", r)
		}

		sc.h.removePeer(back)
		time.Sleep(hubGrace - time.Millisecond)
		synctest.Wait()
		if member.closeCode() != 0 {
			t.Fatal("the session ended before the grace period")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if r := sc.reasons(); !slices.Equal(r, []string{reasonOwnerLeft}) {
			t.Errorf("onEnd got %v", r)
		}
		if m := member.last(); m.State != proto.StateEnded || m.Message != msgSessionEnded || member.closeCode() != websocket.CloseNormalClosure {
			t.Errorf("the member got %+v, closed %d", m, member.closeCode())
		}
	})
}

// TestHubLinkExpiry: a link's guests are ended at its expiry to the millisecond; the owner and
// a guest of another link carry on.
func TestHubLinkExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := newHubScene(t)
		_, owner, _ := sc.peer(proto.RoleOwner, 0, 0)
		sc.h.addLink(sc.s.id, 1, time.Now().Add(time.Minute))
		sc.h.addLink(sc.s.id, 2, time.Time{})
		_, short, _ := sc.peer(proto.RoleGuest, 1, 0)
		_, forever, _ := sc.peer(proto.RoleGuest, 2, 0)
		time.Sleep(time.Minute - time.Millisecond)
		synctest.Wait()
		if short.closeCode() != 0 {
			t.Fatal("the guest was ended before its link expired")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if m := short.last(); m.Message != msgLinkExpired || short.closeCode() != websocket.CloseNormalClosure {
			t.Errorf("the expired link's guest got %+v, closed %d", m, short.closeCode())
		}
		if owner.closeCode() != 0 || forever.closeCode() != 0 {
			t.Error("the link's expiry ended others")
		}
		if _, late, ok := sc.peer(proto.RoleGuest, 1, 0); ok || late.last().Message != msgLinkRevoked {
			t.Errorf("a guest of the expired link joined %v: %+v", ok, late.last())
		}
	})
}
