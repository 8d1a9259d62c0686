package signaling

import (
	"context"
	"peerdesk/store"
	"time"
)

// LivePeers counts the peers of every live session, as the hub sees them.
func LivePeers(s *Server) int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	n := 0
	for _, sess := range s.hub.sessions {
		n += len(sess.peers)
	}
	return n
}

// SetAdmitTimeout makes guests wait at most d to be let in, until the test ends.
func SetAdmitTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := admitTimeout
	admitTimeout = d
	t.Cleanup(func() { admitTimeout = old })
}

// PruneRecordings applies the recording retention now.
func PruneRecordings(s *Server) error { return s.rec.prune(context.Background()) }

// OpenPeers counts the peer sockets open for user on every node, as s knows them.
func OpenPeers(s *Server, user store.UserID) int {
	s.peerLimits.mu.Lock()
	defer s.peerLimits.mu.Unlock()
	return s.peerLimits.count(peerKey{user: user})
}
