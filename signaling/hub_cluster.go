package signaling

import (
	"slices"
	"sync"

	"peerdesk/store"
)

// What a cluster node asks of its hub (cluster.go).

// busy reports whether the hub has the agent or a live session of connection id, or a socket
// for it on its way in (arrive).
func (h *hub) busy(id store.ConnectionID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.agents[id] != nil || h.sessions[id] != nil || h.arriving[id] > 0
}

// arrive counts a socket for connection id from its home check until done: the home is not
// released under it before it reaches the hub.
func (h *hub) arrive(id store.ConnectionID) (done func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.arriving[id]++
	return sync.OnceFunc(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.arriving[id]--; h.arriving[id] <= 0 {
			delete(h.arriving, id)
		}
		h.noteIdle(id)
	})
}

// busyConnections returns the connections the hub has the agent or a live session of.
func (h *hub) busyConnections() []store.ConnectionID {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]store.ConnectionID, 0, len(h.agents)+len(h.sessions))
	for id := range h.agents {
		out = append(out, id)
	}
	for id := range h.sessions {
		if h.agents[id] == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// onlineConnections returns the connections whose agents are connected here.
func (h *hub) onlineConnections() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]int64, 0, len(h.agents))
	for id := range h.agents {
		out = append(out, int64(id))
	}
	return out
}

// noteIdle tells the hub's idle channel, if it has one, that connection id may have neither
// its agent nor a session here any more. Callers hold h.mu; it never blocks (a full channel
// leaves the connection to the cluster's next check).
func (h *hub) noteIdle(id store.ConnectionID) {
	if h.idle == nil || h.agents[id] != nil || h.sessions[id] != nil || h.arriving[id] > 0 {
		return
	}
	select {
	case h.idle <- id:
	default:
	}
}
