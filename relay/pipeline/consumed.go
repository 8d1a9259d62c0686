package pipeline

import "errors"

// The peer's side of the flow: a peer that reports the display bytes it applied (CONSUMED,
// docs/PROTOCOL.md 3.2) is never sent more than a window beyond them. Without it a peer that
// stops reading is held only by its transport: its SCTP receive window fills with stale
// updates, and the agent learns that the peer reads again only from its zero-window probe,
// which SCTP retransmits at a backed-off timeout (seconds) when the receiver, as pion's does,
// sends no window update of its own.

// Bounds of the window of unapplied bytes: twice the high-water mark (the link's rate times
// the queue delay and a round trip), at least enough for a report every ConsumedEvery bytes to
// keep the stream busy, and at most well inside a pion peer's 1 MiB receive window.
const (
	minConsumeWindow = 256 << 10
	maxConsumeWindow = 768 << 10
)

// errBehind stops a pass: the peer has a window's worth of display bytes it has not applied.
var errBehind = errors.New("pipeline: peer has not applied what it was sent")

// Consumed records the peer's report that it applied n bytes of display messages (modulo
// 2^32) since the stream began, and wakes the stream. It never blocks. A report of more than
// the stream sent is ignored when the stream next looks: a peer can only mislead its own flow.
func (s *PeerStream) Consumed(n uint32) {
	s.consumed.Store(uint64(n) | reported)
	s.Wake()
}

// reported marks s.consumed as holding a report.
const reported = 1 << 32

// behind reports whether the peer, if it reports what it applied, holds a window's worth of
// bytes it has not applied yet.
func (s *PeerStream) behind() bool {
	c := s.consumed.Load()
	if c&reported == 0 {
		return false // a peer that does not report is held by its transport alone
	}
	unapplied := uint64(uint32(s.sent) - uint32(c))
	window := min(max(2*s.hw, minConsumeWindow), maxConsumeWindow)
	if unapplied > min(s.sent, 2*maxConsumeWindow) {
		return false // more than was sent, or than the stream ever lets out: not a true count
	}
	if unapplied < window {
		return false
	}
	if !s.waiting {
		s.waiting = true
		s.behindCount.Add(1)
		s.p.sent.behind.Add(1)
	}
	return true
}
