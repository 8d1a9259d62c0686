package relay

import (
	"slices"
	"sync"

	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// Control hand-off: in a session whose participants must ask for control (those of a link
// whose profile says so, or all of them while the owner's switch is on), a full-access
// participant other than the owner starts as a viewer — its input dropped at the relay and
// counted, its pointer still shown — asks with request-control, and drives the host once the
// owner gives it control, until the owner takes it back or it releases it.
//
// The rule: besides the owner, one participant at a time has control. Two people driving one
// pointer and keyboard fight over it (every click of one lands where the other left the
// pointer); the owner keeps control always, as the one who hands it out and may have to step in.

// maxControlRequests bounds the requests waiting; more are refused.
const maxControlRequests = 32

// handoff is the hand-off state of the agent's session: whether everyone asks for control,
// who holds it and who asked, and every participant's sink of control messages.
type handoff struct {
	mu       sync.Mutex
	all      bool              // the owner's switch: every full-access non-owner asks
	holder   string            // the peer id with control, "" for none
	requests []string          // peer ids that asked, oldest first
	names    map[string]string // peer id → name, for the messages
	sinks    map[string]func([]byte)
}

func newHandoff() *handoff {
	return &handoff{names: make(map[string]string), sinks: make(map[string]func([]byte))}
}

// gated reports whether input from p needs control it does not hold.
func (h *handoff) gated(p *peer) bool {
	if p.readOnly || p.identity.Role == proto.RoleOwner {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return (p.askControl || h.all) && h.holder != p.id
}

// join makes peer id (shown as name) receive the hand-off state through sink, now and on
// every change.
func (h *handoff) join(id, name string, sink func([]byte)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.names[id], h.sinks[id] = name, sink
	sink(h.messageLocked())
}

// leave forgets peer id: its sink, its request and its control.
func (h *handoff) leave(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sinks, id)
	delete(h.names, id)
	changed := h.holder == id || slices.Contains(h.requests, id)
	if h.holder == id {
		h.holder = ""
	}
	h.requests = slices.DeleteFunc(h.requests, func(r string) bool { return r == id })
	if changed {
		h.broadcastLocked()
	}
}

// handle applies a hand-off control message from p and returns the error code and message to
// answer it with, or "" when it applied.
func (h *handoff) handle(p *peer, c wire.Control) (code, message string) {
	owner := p.identity.Role == proto.RoleOwner
	h.mu.Lock()
	defer h.mu.Unlock()
	switch c.Type {
	case wire.ControlRequestControl:
		switch {
		case p.readOnly:
			return wire.CodeNotAllowed, "view-only participants cannot take control"
		case owner || h.holder == p.id || slices.Contains(h.requests, p.id):
			return "", "" // nothing to ask
		case len(h.requests) >= maxControlRequests:
			return wire.CodeNotAllowed, "too many requests waiting"
		}
		h.requests = append(h.requests, p.id)
	case wire.ControlReleaseControl:
		if h.holder != p.id {
			return "", ""
		}
		h.holder = ""
	case wire.ControlGiveControl, wire.ControlTakeControl, wire.ControlHandoff:
		if !owner {
			return wire.CodeNotAllowed, "only the session's owner hands control out"
		}
		switch c.Type {
		case wire.ControlGiveControl:
			if _, ok := h.sinks[c.Peer]; !ok || c.Peer == p.id {
				return wire.CodeNotAllowed, "no such participant"
			}
			h.holder = c.Peer
			h.requests = slices.DeleteFunc(h.requests, func(r string) bool { return r == c.Peer })
		case wire.ControlTakeControl:
			h.holder = ""
		default:
			h.all = c.On
		}
	}
	h.broadcastLocked()
	return "", ""
}

// broadcastLocked sends the state to every participant; h.mu is held.
func (h *handoff) broadcastLocked() {
	msg := h.messageLocked()
	for _, sink := range h.sinks {
		sink(msg)
	}
}

// messageLocked is the control message of the state; h.mu is held.
func (h *handoff) messageLocked() []byte {
	c := wire.Control{Type: wire.ControlControl, On: h.all}
	if h.holder != "" {
		c.Holder = &wire.ControlHolder{Peer: h.holder, Name: h.names[h.holder]}
	}
	for _, id := range h.requests {
		c.Requests = append(c.Requests, wire.ControlHolder{Peer: id, Name: h.names[id]})
	}
	return c.Encode()
}
