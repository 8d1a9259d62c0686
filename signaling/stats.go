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
	// SharesThrottled counts share-link requests refused (429) for an address that tried too
	// many invalid keys or passcodes; AgentsThrottled agent handshakes refused likewise.
	SharesThrottled, AgentsThrottled uint64
	// Joins counts the peer sockets accepted onto a live session (or its waiting room).
	Joins uint64
	// LinkMisses counts share-link requests with an invalid key; PasscodeMisses those with a
	// wrong passcode.
	LinkMisses, PasscodeMisses uint64
	// DrainRefused counts WebSockets refused (503) while the server drains.
	DrainRefused uint64
}

// counters are the live values behind Stats.
type counters struct {
	overBudget, loginThrottled, loginBusy, joinsThrottled atomic.Uint64
	sharesThrottled, agentsThrottled, joins, linkMisses   atomic.Uint64
	passcodeMisses, drainRefused                          atomic.Uint64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	c := &s.counters
	return Stats{
		PeersOverBudget: c.overBudget.Load(),
		LoginsThrottled: c.loginThrottled.Load(),
		LoginsBusy:      c.loginBusy.Load(),
		JoinsThrottled:  c.joinsThrottled.Load(),
		SharesThrottled: c.sharesThrottled.Load(),
		AgentsThrottled: c.agentsThrottled.Load(),
		Joins:           c.joins.Load(),
		LinkMisses:      c.linkMisses.Load(),
		PasscodeMisses:  c.passcodeMisses.Load(),
		DrainRefused:    c.drainRefused.Load(),
	}
}
