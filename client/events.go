package client

import (
	"sync/atomic"

	"peerdesk/relay/wire"
)

// eventBuffer bounds the events waiting for the user.
const eventBuffer = 64

// eventQueue delivers events without ever blocking the producer: when the user does not
// read, the oldest event is dropped and counted.
type eventQueue struct {
	ch      chan wire.Control
	dropped atomic.Uint64
}

func newEventQueue() *eventQueue {
	return &eventQueue{ch: make(chan wire.Control, eventBuffer)}
}

// push queues ev, dropping the oldest events while the queue is full.
func (q *eventQueue) push(ev wire.Control) {
	for {
		select {
		case q.ch <- ev:
			return
		default:
		}
		select {
		case <-q.ch:
			q.dropped.Add(1)
		default:
		}
	}
}
