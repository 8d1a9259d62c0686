package signaling

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
