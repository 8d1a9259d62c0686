package signaling

import (
	"context"
	"crypto/rand"
	"maps"
	"slices"
	"strings"
	"time"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// DefaultOwnerGrace is how long a live session outlives its owner's last peer when
// Config.OwnerGrace is zero: long enough for a page reload.
const DefaultOwnerGrace = 10 * time.Second

// What participants are told when they are disconnected, and why a session ended.
const (
	msgSessionEnded = "The session has ended"
	msgLinkRevoked  = "This link was revoked"
	msgGuestLimit   = "This link has reached its guest limit"
	msgLinkExpired  = "This link has expired"
	reasonOwnerLeft = "owner left"
	reasonRestarted = "server restarted"
	reasonDeleted   = "connection deleted"
)

// SessionID identifies a live session: random, URL-safe, unique for ever.
type SessionID string

// newSessionID returns a random SessionID of 128 bits.
func newSessionID() SessionID { return SessionID(rand.Text()) }

// session is the live session of one connection: its participants, the share links made in
// it, and the grace timer that ends it once its owner has been gone too long. id, conn,
// owner, ownerName and started never change; the other fields are guarded by the hub's mutex.
type session struct {
	id        SessionID
	conn      store.Connection
	owner     store.UserID
	ownerName string
	started   time.Time

	peers    map[PeerID]*peer
	waiting  map[PeerID]*waiter           // guests waiting to be let in (waiting.go)
	links    map[store.LinkID]bool        // the links made in it → revoked (or expired)
	expiries map[store.LinkID]*time.Timer // end the links that have a lifetime
	grace    *time.Timer                  // running while the owner has no peer
	ended    bool
	done     chan struct{} // closed when it ends
}

// waitEnded returns once s has ended or ctx ended.
func (s *session) waitEnded(ctx context.Context) {
	select {
	case <-s.done:
	case <-ctx.Done():
	}
}

// info is the session as the hello to its peers names it.
func (s *session) info() *proto.SessionInfo {
	return &proto.SessionInfo{ID: string(s.id), Connection: &proto.Connection{ID: int64(s.conn.ID), Name: s.conn.Name}, Recording: s.conn.Record}
}

// ownerPresent reports whether the owner has a peer on the session through the connection
// (not through a share link).
func (s *session) ownerPresent() bool {
	for _, p := range s.peers {
		if p.owner() {
			return true
		}
	}
	return false
}

// linkPeers counts the peers that joined through link id.
func (s *session) linkPeers(id store.LinkID) int {
	n := 0
	for _, p := range s.peers {
		if p.link == id {
			n++
		}
	}
	return n
}

// startSession registers a new live session of conn owned by owner, started at started. Its
// grace timer runs until the owner's first peer arrives, so a session whose owner never shows
// up ends too.
func (h *hub) startSession(id SessionID, conn store.Connection, owner store.User, started time.Time) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &session{id: id, conn: conn, owner: owner.ID, ownerName: owner.Username, started: started,
		peers: make(map[PeerID]*peer), waiting: make(map[PeerID]*waiter), links: make(map[store.LinkID]bool),
		expiries: make(map[store.LinkID]*time.Timer), done: make(chan struct{})}
	h.sessions[conn.ID] = s
	h.byID[id] = s
	h.startGrace(s)
	return s
}

// startGrace starts s's grace timer unless it runs or the hub is closed. Callers hold h.mu.
// The timer's goroutine is counted in h.timers until it returns or the timer is stopped.
func (h *hub) startGrace(s *session) {
	if s.grace != nil || h.closed {
		return
	}
	h.timers.Add(1)
	var t *time.Timer
	t = time.AfterFunc(h.grace, func() {
		defer h.timers.Done()
		h.mu.Lock()
		// The owner may have come back after the timer fired but before this ran.
		expired := s.grace == t && !s.ended
		if expired {
			h.endLocked(s, msgSessionEnded)
		}
		h.mu.Unlock()
		if expired {
			h.onEnd(s.id, reasonOwnerLeft)
		}
	})
	s.grace = t // under h.mu, which the callback takes first: it sees t
}

// expireLink starts the timer that ends link id of s at expires (nothing for the zero time):
// nobody joins through it any more, and its guests are told it expired and disconnected.
// Callers hold h.mu.
func (h *hub) expireLink(s *session, id store.LinkID, expires time.Time) {
	if expires.IsZero() || h.closed {
		return
	}
	h.timers.Add(1)
	var t *time.Timer
	t = time.AfterFunc(expires.Sub(h.now()), func() {
		defer h.timers.Done()
		h.mu.Lock()
		defer h.mu.Unlock()
		if s.expiries[id] != t { // stopped meanwhile (revoked, or the session ended)
			return
		}
		delete(s.expiries, id)
		s.links[id] = true
		for _, p := range s.peers {
			if p.link == id {
				h.disconnectLocked(p, msgLinkExpired)
			}
		}
	})
	s.expiries[id] = t
}

// stopExpiry stops the expiry timer of link id of s, if it runs. Callers hold h.mu.
func (h *hub) stopExpiry(s *session, id store.LinkID) {
	if t := s.expiries[id]; t != nil {
		if t.Stop() {
			h.timers.Done() // the callback will never run
		}
		delete(s.expiries, id)
	}
}

// stopExpiries stops every expiry timer of s. Callers hold h.mu.
func (h *hub) stopExpiries(s *session) {
	for id := range s.expiries {
		h.stopExpiry(s, id)
	}
}

// stopGrace stops s's grace timer if it runs. Callers hold h.mu.
func (h *hub) stopGrace(s *session) {
	if s.grace == nil {
		return
	}
	if s.grace.Stop() {
		h.timers.Done() // the callback will never run
	}
	s.grace = nil
}

// endSession ends live session id, disconnecting every participant with message; it reports
// false if no such session is live.
func (h *hub) endSession(id SessionID, message string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.byID[id]
	if s == nil {
		return false
	}
	h.endLocked(s, message)
	return true
}

// endLocked ends s: it forgets it and its links and disconnects every peer with message.
// Callers hold h.mu.
func (h *hub) endLocked(s *session, message string) {
	if !s.ended {
		close(s.done)
	}
	s.ended = true
	h.stopGrace(s)
	h.stopExpiries(s)
	delete(h.sessions, s.conn.ID)
	delete(h.byID, s.id)
	for id := range s.links {
		delete(h.links, id)
	}
	for _, p := range s.peers {
		h.disconnectLocked(p, message)
	}
	for _, w := range s.waiting {
		w.timer.Stop()
		endPeer(w.p, message)
	}
	clear(s.waiting)
	h.noteIdle(s.conn.ID)
}

// identities groups s's peers by name, sorted by name. Callers hold the hub's mutex.
func (s *session) identities() []proto.Group {
	return proto.GroupByName(maps.Values(s.peers), func(p *peer) (string, string, bool) {
		return p.identity.Name, p.identity.Role, p.readOnly
	})
}

// liveSession is a snapshot of a live session for the Active Sessions list.
type liveSession struct {
	id         SessionID
	conn       store.Connection
	ownerName  string
	started    time.Time
	identities []proto.Group
}

// liveSessions returns a snapshot of every live session, oldest first.
func (h *hub) liveSessions() []liveSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]liveSession, 0, len(h.byID))
	for _, s := range h.byID {
		out = append(out, liveSession{id: s.id, conn: s.conn, ownerName: s.ownerName, started: s.started, identities: s.identities()})
	}
	slices.SortFunc(out, func(a, b liveSession) int {
		if c := a.started.Compare(b.started); c != 0 {
			return c
		}
		return strings.Compare(string(a.id), string(b.id))
	})
	return out
}
