package relay

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"peerdesk/relay/wire"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 20 * time.Second

// receivedPresence is one presence message as a peer got it.
type receivedPresence struct {
	msg wire.Control
	at  time.Time // when the sender called send
}

// presenceRecorder is a peer's control channel as its presence sender sees it.
type presenceRecorder struct {
	t       *testing.T
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every message
	msgs    []receivedPresence
}

func newPresenceRecorder(t *testing.T) *presenceRecorder {
	return &presenceRecorder{t: t, changed: make(chan struct{})}
}

func (r *presenceRecorder) send(b []byte) error {
	at := time.Now()
	c, err := wire.DecodeControl(b)
	if err != nil || c.Type != wire.ControlPresence || len(b) > wire.MaxMessage {
		r.t.Errorf("bad presence message %q: %v", b, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, receivedPresence{msg: c, at: at})
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// waitSeq waits for a message of at least seq and returns every message received so far.
func (r *presenceRecorder) waitSeq(seq uint64) []receivedPresence {
	r.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		msgs, ch := slices.Clone(r.msgs), r.changed
		r.mu.Unlock()
		if len(msgs) > 0 && msgs[len(msgs)-1].msg.Seq >= seq {
			return msgs
		}
		select {
		case <-ch:
		case <-deadline:
			r.t.Fatalf("no presence message of seq %d within %v (got %d messages)", seq, waitTimeout, len(msgs))
		}
	}
}

// presenceConnSpec is a connection of the tests' rosters.
type presenceConnSpec struct {
	name, role string
	readOnly   bool
}

func newTestPresence(t *testing.T, interval time.Duration) *presence {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	return newPresence(zerolog.New(zerolog.NewTestWriter(t)), interval)
}

// joinSpec makes peer id present with a fresh token and returns its token.
func joinSpec(r *presence, id string, c presenceConnSpec, send func([]byte) error) *webrtc.PeerConnection {
	pc := &webrtc.PeerConnection{} // only compared, never used
	r.join(id, pc, wire.Identity{Name: c.name, Role: c.role}, c.readOnly, send)
	return pc
}

func discard([]byte) error { return nil }

// truth groups connections the obvious way, for comparison with the roster.
func truth(conns map[string]presenceConnSpec) []wire.Participant {
	rank := map[string]int{"guest": 1, "member": 2, "owner": 3}
	by := map[string]*wire.Participant{}
	for _, c := range conns {
		p := by[c.name]
		if p == nil {
			p = &wire.Participant{Name: c.name, Role: c.role, ReadOnly: true}
			by[c.name] = p
		}
		if rank[c.role] > rank[p.Role] {
			p.Role = c.role
		}
		p.ReadOnly = p.ReadOnly && c.readOnly
		p.Connections++
	}
	var out []wire.Participant
	for _, p := range by {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b wire.Participant) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// TestPresenceGroupsIdentities: tabs of one user are one identity, every anonymous guest is
// "Anonymous", the role is the strongest and read-only holds only if it does for all; the
// first message is a snapshot and every present peer gets the same roster.
func TestPresenceGroupsIdentities(t *testing.T) {
	r := newTestPresence(t, time.Millisecond)
	conns := map[string]presenceConnSpec{
		"p1": {"alice", "owner", false},
		"p2": {"alice", "owner", true},
		"p3": {"Anonymous", "guest", true},
		"p4": {"Anonymous", "guest", true},
		"p5": {"Anonymous", "guest", true},
		"p6": {"bob", "guest", true},
		"p7": {"bob", "member", true},
		"p8": {"carol", "member", false},
		"p9": {"carol", "member", true},
	}
	recs := map[string]*presenceRecorder{}
	tokens := map[string]*webrtc.PeerConnection{}
	for _, id := range slices.Sorted(maps.Keys(conns)) {
		recs[id] = newPresenceRecorder(t)
		tokens[id] = joinSpec(r, id, conns[id], recs[id].send)
	}
	want := []wire.Participant{
		{Name: "Anonymous", Role: "guest", ReadOnly: true, Connections: 3},
		{Name: "alice", Role: "owner", ReadOnly: false, Connections: 2},
		{Name: "bob", Role: "member", ReadOnly: true, Connections: 2},
		{Name: "carol", Role: "member", ReadOnly: false, Connections: 2},
	}
	for id, rec := range recs {
		msgs := rec.waitSeq(uint64(len(conns)))
		if first := msgs[0].msg; first.Joined != nil || first.Left != nil {
			t.Errorf("%s: first message is no snapshot: joined %v left %v", id, first.Joined, first.Left)
		}
		if got := msgs[len(msgs)-1].msg.Participants; !slices.Equal(got, want) {
			t.Errorf("%s: roster %+v, want %+v", id, got, want)
		}
	}
	for id, pc := range tokens {
		r.leave(id, pc)
	}
	if n := len(r.conns); n != 0 {
		t.Fatalf("%d connections left", n)
	}
}

// TestPresenceDiffs: each message lists the identities whose count rose (joined) or fell
// (left) since the previous message to that peer, with their new counts, 0 once gone.
func TestPresenceDiffs(t *testing.T) {
	r := newTestPresence(t, time.Millisecond)
	me := newPresenceRecorder(t)
	mine := joinSpec(r, "me", presenceConnSpec{"owner", "owner", false}, me.send)
	defer r.leave("me", mine)
	me.waitSeq(1)

	alice1 := joinSpec(r, "a1", presenceConnSpec{"alice", "member", false}, discard)
	check := func(seq uint64, joined, left []wire.Participant) {
		t.Helper()
		msgs := me.waitSeq(seq)
		got := msgs[len(msgs)-1].msg
		if got.Seq != seq || !slices.Equal(got.Joined, joined) || !slices.Equal(got.Left, left) {
			t.Fatalf("message %+v, want seq %d joined %+v left %+v", got, seq, joined, left)
		}
	}
	check(2, []wire.Participant{{Name: "alice", Role: "member", Connections: 1}}, nil)
	alice2 := joinSpec(r, "a2", presenceConnSpec{"alice", "member", true}, discard)
	check(3, []wire.Participant{{Name: "alice", Role: "member", Connections: 2}}, nil)
	r.leave("a1", alice1)
	check(4, nil, []wire.Participant{{Name: "alice", Role: "member", ReadOnly: true, Connections: 1}})
	r.leave("a1", alice1) // gone already: no change
	r.leave("a2", &webrtc.PeerConnection{})
	if r.seq != 4 {
		t.Fatalf("a stale leave changed the roster: seq %d", r.seq)
	}
	r.leave("a2", alice2)
	check(5, nil, []wire.Participant{{Name: "alice", Role: "member", ReadOnly: true, Connections: 0}})
	// One identity coming while another goes, in one message.
	joined, left := rosterDiff(
		[]wire.Participant{{Name: "Anonymous", Role: "guest", ReadOnly: true, Connections: 3}, {Name: "x", Role: "member", Connections: 1}},
		[]wire.Participant{{Name: "Anonymous", Role: "guest", ReadOnly: true, Connections: 2}, {Name: "y", Role: "guest", Connections: 1}})
	wantJ := []wire.Participant{{Name: "y", Role: "guest", Connections: 1}}
	wantL := []wire.Participant{{Name: "Anonymous", Role: "guest", ReadOnly: true, Connections: 2}, {Name: "x", Role: "member", Connections: 0}}
	if !slices.Equal(joined, wantJ) || !slices.Equal(left, wantL) {
		t.Fatalf("diff joined %+v left %+v, want %+v and %+v", joined, left, wantJ, wantL)
	}
}

// TestPresenceCoalesces: a burst of concurrent joins and leaves makes few messages, at most
// one per interval, each consistent with the previous one, and the last is the true roster. It
// runs in synctest's fake time: the interval is exact, costs no real time, and every goroutine
// must have ended with the bubble.
func TestPresenceCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 100 * time.Millisecond
		r := newPresence(zerolog.New(zerolog.NewTestWriter(t)), interval) // synctest waits for its goroutines
		me := newPresenceRecorder(t)
		mine := joinSpec(r, "me", presenceConnSpec{"owner", "owner", false}, me.send)
		defer r.leave("me", mine)
		me.waitSeq(1)

		conns := map[string]presenceConnSpec{"me": {"owner", "owner", false}}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 20 {
			id := fmt.Sprintf("p%d", i)
			c := presenceConnSpec{"Anonymous", "guest", i%3 != 0}
			if i%4 == 0 {
				c = presenceConnSpec{fmt.Sprintf("user%d", i%8), "member", i%8 == 0}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				pc := joinSpec(r, id, c, discard)
				if i%2 == 0 {
					r.leave(id, pc) // half of them leave again
					return
				}
				mu.Lock()
				conns[id] = c
				mu.Unlock()
			}()
		}
		wg.Wait()
		msgs := me.waitSeq(31) // 1 + 20 joins + 10 leaves
		want := truth(conns)
		last := msgs[len(msgs)-1].msg
		if !slices.Equal(last.Participants, want) {
			t.Fatalf("final roster %+v, want %+v", last.Participants, want)
		}
		if len(msgs) > 6 {
			t.Errorf("%d presence messages for a burst of 30 changes", len(msgs))
		}
		for i := 1; i < len(msgs); i++ {
			prev, cur := msgs[i-1], msgs[i]
			if gap := cur.at.Sub(prev.at); gap < interval {
				t.Errorf("messages %d and %d only %v apart", i-1, i, gap)
			}
			joined, left := rosterDiff(prev.msg.Participants, cur.msg.Participants)
			if !slices.Equal(cur.msg.Joined, joined) || !slices.Equal(cur.msg.Left, left) || cur.msg.Seq <= prev.msg.Seq {
				t.Errorf("message %d: seq %d joined %+v left %+v after seq %d", i, cur.msg.Seq, cur.msg.Joined, cur.msg.Left, prev.msg.Seq)
			}
		}
		for id := range conns {
			if id != "me" {
				r.mu.Lock()
				pc := r.conns[id].pc
				r.mu.Unlock()
				r.leave(id, pc)
			}
		}
	})
}
