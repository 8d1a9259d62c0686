package signaling

import "sync/atomic"

// Stats counts what the server refused to protect itself and its users.
type Stats struct {
	// PeersOverBudget counts peer sockets disconnected for sending more signaling than their
	// budget allows, or more than their agent's queue could take.
	PeersOverBudget uint64
}

// counters are the live values behind Stats.
type counters struct {
	overBudget atomic.Uint64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{PeersOverBudget: s.counters.overBudget.Load()}
}
