package relay

import (
	"sync"
	"testing"
	"time"

	"peerdesk/relay/wire"
)

// sinkRecorder records the pointers messages one receiver was given.
type sinkRecorder struct {
	mu      sync.Mutex
	msgs    []wire.Control
	at      []time.Time
	changed chan struct{} // closed and replaced at every message
}

func newSinkRecorder() *sinkRecorder { return &sinkRecorder{changed: make(chan struct{})} }

func (r *sinkRecorder) sink(t *testing.T) pointerSink {
	return func(b []byte) {
		c, err := wire.DecodeControl(b)
		if err != nil || c.Type != wire.ControlPointers {
			t.Errorf("pointers message %s: %v", b, err)
		}
		r.mu.Lock()
		r.msgs, r.at = append(r.msgs, c), append(r.at, time.Now())
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

// waitFor waits until the last message satisfies ok.
func (r *sinkRecorder) waitFor(t *testing.T, what string, ok func(wire.Control) bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		good, ch := len(r.msgs) > 0 && ok(r.msgs[len(r.msgs)-1]), r.changed
		r.mu.Unlock()
		if good {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestPointerBoard: each participant gets the others' pointers — never its own — named and
// coloured, the newest position of each; a burst of moves sends at most pointerRate messages a
// second; a participant who leaves is no longer shown.
func TestPointerBoard(t *testing.T) {
	b := newPointerBoard()
	defer b.close()
	ann, bob := newSinkRecorder(), newSinkRecorder()
	b.join("ann", ann.sink(t))
	b.join("bob", bob.sink(t))
	b.move("bob", "Bob (guest)", 10, 20)
	ann.waitFor(t, "bob's pointer", func(c wire.Control) bool {
		return len(c.Pointers) == 1 && c.Pointers[0].Name == "Bob (guest)" && c.Pointers[0].X == 10 && c.Pointers[0].Y == 20
	})
	bob.waitFor(t, "no pointer of his own", func(c wire.Control) bool { return len(c.Pointers) == 0 })
	start := time.Now()
	for i := range 300 { // 300 moves as fast as they come
		b.move("ann", "ann", i, i)
	}
	bob.waitFor(t, "ann's last position", func(c wire.Control) bool {
		return len(c.Pointers) == 1 && c.Pointers[0].X == 299 && c.Pointers[0].Color >= 0 && c.Pointers[0].Color < pointerColors
	})
	bob.mu.Lock()
	n := 0
	for _, at := range bob.at {
		if !at.Before(start) {
			n++
		}
	}
	bob.mu.Unlock()
	if el := time.Since(start); float64(n) > el.Seconds()*pointerRate+2 {
		t.Errorf("%d messages in %v for 300 moves: more than %d a second", n, el, pointerRate)
	}
	b.leave("bob")
	ann.waitFor(t, "bob gone", func(c wire.Control) bool { return len(c.Pointers) == 0 })
}
