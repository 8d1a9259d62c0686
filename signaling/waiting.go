package signaling

import (
	"slices"
	"time"

	"peerdesk/signaling/proto"
)

// The waiting room: a guest joining through a link whose profile admits each guest (Admit)
// waits, its socket open but unknown to the agent, until an owner or member of the session
// lets it in (proto.TypeAdmit) — it then joins like any peer — or does not, or nobody does
// within admitTimeout. Nothing of the session reaches it before: no hello, no agent, no offer.

// admitTimeout is how long a guest waits to be let in before it is turned away (a variable
// for tests).
var admitTimeout = 2 * time.Minute

// Limits and messages of the waiting room.
const (
	maxWaiting  = 32 // guests waiting in one session at once; more are turned away
	msgWaiting  = "Waiting for the host to let you in"
	msgDenied   = "The host did not let you in"
	msgNoAdmit  = "Nobody let you in; try again later"
	msgFullRoom = "Too many guests are waiting to be let in; try again later"
)

// waiter is a peer in a session's waiting room.
type waiter struct {
	p         *peer
	address   string
	maxGuests int
	since     time.Time
	timer     *time.Timer
}

// addWaiting puts p in its session's waiting room, tells it so and tells the session's owner
// and members; it reports false (and ends p) if the session ended or its room is full.
func (h *hub) addWaiting(p *peer, address string, maxGuests int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := p.sess
	switch {
	case s.ended:
		endPeer(p, msgSessionEnded)
		return false
	case len(s.waiting) >= maxWaiting:
		endPeer(p, msgFullRoom)
		return false
	}
	w := &waiter{p: p, address: address, maxGuests: maxGuests, since: h.now()}
	w.timer = time.AfterFunc(admitTimeout, func() { h.turnAway(p, msgNoAdmit) })
	s.waiting[p.id] = w
	p.ws.send(stateMessage(proto.StateWaiting, msgWaiting))
	h.announceWaitingLocked(s)
	return true
}

// admit lets waiting peer id of from's session in, or turns it away; from must be an owner or
// member of the session.
func (h *hub) admit(from *peer, id PeerID, allow bool) *refusal {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := from.sess
	if s.peers[from.id] != from || from.identity.Role == proto.RoleGuest {
		return &refusal{proto.CodeBadMessage, "only the session's owner and members let guests in"}
	}
	w := s.waiting[id]
	if w == nil {
		return &refusal{proto.CodeUnknownPeer, "nobody of that id is waiting"}
	}
	h.leaveRoomLocked(w)
	if allow {
		h.log.Info().Str("peer", string(id)).Str("by", from.identity.Name).Msg("guest let in")
		h.addPeerLocked(w.p, w.maxGuests)
	} else {
		h.log.Info().Str("peer", string(id)).Str("by", from.identity.Name).Msg("guest turned away")
		endPeer(w.p, msgDenied)
	}
	return nil
}

// turnAway ends waiting peer p with message, if it still waits.
func (h *hub) turnAway(p *peer, message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := p.sess.waiting[p.id]; w != nil && w.p == p {
		h.leaveRoomLocked(w)
		endPeer(p, message)
	}
}

// leaveRoomLocked takes w out of its session's waiting room and tells the owner and members.
// Callers hold h.mu.
func (h *hub) leaveRoomLocked(w *waiter) {
	w.timer.Stop()
	delete(w.p.sess.waiting, w.p.id)
	h.announceWaitingLocked(w.p.sess)
}

// announceWaitingLocked sends s's waiting list to its owner's and members' peers. Callers
// hold h.mu.
func (h *hub) announceWaitingLocked(s *session) {
	msg := waitingMessage(s)
	for _, p := range s.peers {
		if p.identity.Role != proto.RoleGuest {
			p.ws.send(msg)
		}
	}
}

// waitingMessage is s's waiting list, the longest waiting first. Callers hold the hub's mutex.
func waitingMessage(s *session) []byte {
	ws := slices.SortedFunc(func(yield func(*waiter) bool) {
		for _, w := range s.waiting {
			if !yield(w) {
				return
			}
		}
	}, func(a, b *waiter) int { return a.since.Compare(b.since) })
	list := make([]proto.Waiter, len(ws))
	for i, w := range ws {
		list[i] = proto.Waiter{Peer: string(w.p.id), Name: w.p.identity.Name, Address: w.address}
	}
	return proto.Message{Type: proto.TypeWaiting, Waiting: list}.Encode()
}
