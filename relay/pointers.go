package relay

import (
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"peerdesk/relay/wire"
)

// Everyone's pointer: every participant's pointer position over the desktop (from its
// pointer input and its point-at messages, read-only participants' included) goes to every
// other participant as pointers control messages, so that each sees the others' named
// pointers — a viewer's is a laser pointer: it never reaches the host. The board sends at most
// pointerRate messages a second whatever the moves (a sender's moves coalesce), each to every
// receiver through its control sender's own slot (a newer one replaces one not yet sent).

// Pointer board limits.
const (
	pointerRate = 30 // pointers messages a second at most
	// pointerIdle is how long a pointer that stopped moving stays shown.
	pointerIdle = 10 * time.Second
	// pointerColors is the size of the pages' palette of pointer colours.
	pointerColors = 12
)

// pointerSink sets the pointers message a participant is to be sent next.
type pointerSink func(msg []byte)

// pointerBoard keeps the participants' pointers and tells each the others'.
type pointerBoard struct {
	mu    sync.Mutex
	ptrs  map[string]*boardPointer // by peer id
	sinks map[string]pointerSink   // by peer id
	dirty bool
	last  time.Time // when the board last sent

	loop
}

// boardPointer is one participant's pointer.
type boardPointer struct {
	wire.Pointer
	moved time.Time
}

func newPointerBoard() *pointerBoard {
	b := &pointerBoard{ptrs: make(map[string]*boardPointer), sinks: make(map[string]pointerSink), loop: newLoop()}
	go b.run()
	return b
}

// join makes peer id receive the others' pointers through sink (replacing an earlier sink).
func (b *pointerBoard) join(id string, sink pointerSink) {
	b.mu.Lock()
	b.sinks[id] = sink
	b.dirty = true
	b.mu.Unlock()
	b.wakeUp()
}

// leave forgets peer id: its pointer and its sink.
func (b *pointerBoard) leave(id string) {
	b.mu.Lock()
	delete(b.sinks, id)
	_, had := b.ptrs[id]
	delete(b.ptrs, id)
	b.dirty = b.dirty || had
	b.mu.Unlock()
	b.wakeUp()
}

// move records that peer id, shown as name, points at x, y.
func (b *pointerBoard) move(id, name string, x, y int) {
	now := time.Now()
	b.mu.Lock()
	p := b.ptrs[id]
	if p == nil {
		h := fnv.New32a()
		h.Write([]byte(id))
		p = &boardPointer{Pointer: wire.Pointer{Peer: id, Name: name, Color: int(h.Sum32() % pointerColors)}}
		b.ptrs[id] = p
	}
	p.X, p.Y, p.moved = x, y, now
	b.dirty = true
	b.mu.Unlock()
	b.wakeUp()
}

// run sends the board whenever it changed, at most pointerRate times a second, and drops the
// pointers idle for pointerIdle.
func (b *pointerBoard) run() {
	defer close(b.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.wake:
		case <-tick.C: // idle pointers
		}
		if wait := time.Second/pointerRate - time.Since(b.last); wait > 0 {
			select {
			case <-b.stop:
				return
			case <-time.After(wait):
			}
		}
		b.send(time.Now())
	}
}

// send tells every receiver the others' pointers, if the board changed.
func (b *pointerBoard) send(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, p := range b.ptrs {
		if now.Sub(p.moved) > pointerIdle {
			delete(b.ptrs, id)
			b.dirty = true
		}
	}
	if !b.dirty {
		return
	}
	b.dirty, b.last = false, now
	all := slices.SortedFunc(func(yield func(*boardPointer) bool) {
		for _, p := range b.ptrs {
			if !yield(p) {
				return
			}
		}
	}, func(x, y *boardPointer) int { return y.moved.Compare(x.moved) }) // the latest first
	for to, sink := range b.sinks {
		list := make([]wire.Pointer, 0, min(len(all), wire.MaxPointers))
		for _, p := range all {
			if p.Peer != to && len(list) < wire.MaxPointers {
				list = append(list, p.Pointer)
			}
		}
		sink(wire.Control{Type: wire.ControlPointers, Pointers: list}.Encode())
	}
}
