package signaling

import "sync/atomic"

// Stats counts what the server refused to protect itself and its users.
type Stats struct {
	// PeersOverBudget counts peer sockets disconnected for sending more signaling than their
	// budget allows, or more than their agent's queue could take.
	PeersOverBudget uint64
	// LoginsThrottled counts logins refused (429) for too many failures of their address or
	// username; LoginsBusy those refused (503) because too many were being checked at once.
	LoginsThrottled, LoginsBusy uint64
	// JoinsThrottled counts peer sockets refused (429) for an address opening too many.
	JoinsThrottled uint64
}

// counters are the live values behind Stats.
type counters struct {
	overBudget, loginThrottled, loginBusy, joinsThrottled atomic.Uint64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		PeersOverBudget: s.counters.overBudget.Load(),
		LoginsThrottled: s.counters.loginThrottled.Load(),
		LoginsBusy:      s.counters.loginBusy.Load(),
		JoinsThrottled:  s.counters.joinsThrottled.Load(),
	}
}
