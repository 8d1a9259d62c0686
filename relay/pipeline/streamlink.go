package pipeline

import (
	"time"

	"peerdesk/relay/wire"
)

// A peer stream's side of its link: sampling the transport, sizing the queue and messages,
// choosing the rendition and reporting the link.

// minMessage is the smallest limit on a TILES message (a tile larger than the limit still goes,
// alone).
const minMessage = 8 << 10

// Watchdog of a stalled stream: if the transport's low-water callback is lost (a drain before
// it was registered, say), a stalled stream looks again after this long, or four round trips.
const stallWatchdog = 250 * time.Millisecond

// measure samples the transport's drain at the start of a pass and follows the measured rate
// with the high-water mark.
func (s *PeerStream) measure(now time.Time) {
	buffered := s.out.BufferedAmount()
	if s.rtt != nil {
		s.link.observeRTT(now, s.rtt.RTT())
	}
	delivered := s.sent - min(buffered, s.sent)
	// The link set the pace since the last pass if that pass stopped at high water, or if the
	// transport holds more than what is in flight on the path plus half the queue allowed on
	// top: data waited for the link. (Data in flight alone fills a long path's buffer whatever
	// the link's capacity.)
	inFlight := min(s.link.inFlight(), s.hw/2)
	busy := s.stopped || buffered > inFlight+(s.hw-inFlight)/2
	s.link.sample(now, delivered, busy, busy && !s.refining)
	s.setHighWater(s.link.highWater(now, s.p.cfg.QueueDelay, s.p.cfg.HighWater))
}

// setHighWater makes hw the peer's high-water mark, the low-water threshold half of it, and
// the largest TILES message a quarter of it (within 8 KiB and wire.MaxMessage), so that a
// thin link is not handed a message it takes long to carry.
func (s *PeerStream) setHighWater(hw uint64) {
	if hw == s.hw {
		return
	}
	s.hw = hw
	s.maxMsg = min(max(int(hw/4), minMessage), wire.MaxMessage)
	s.out.SetBufferedAmountLowThreshold(hw / 2)
}

// adjust ends a pass that stopped at high water or not: it lets the adapter choose the
// rendition, reports the link when that is due and arms the timer for the adapter's next
// decision or, when stopped, the watchdog.
func (s *PeerStream) adjust(now time.Time, stopped bool) {
	s.stopped = stopped
	wasLighter := s.adapt.lighter
	busy, saturation, ok := s.link.load(now)
	if s.link.growing(now) {
		saturation = 0 // the queue, growing with the rate, was the limit
	}
	s.adapt.decide(now, busy, saturation, ok)
	if wasLighter && !s.adapt.lighter {
		s.Wake() // the next pass sends full-quality copies of the lighter tiles
	}
	l := Link{Limited: s.adapt.limited(now), Lighter: s.adapt.lighter, Rate: uint64(s.link.rate), Lag: s.adapt.lag}
	s.stats.Store(&PeerStats{HighWater: s.hw, Link: l})
	if s.onLink != nil && s.adapt.report(now, l) {
		s.onLink(l)
	}
	d, ok := s.adapt.next(now)
	if stopped {
		if w := max(stallWatchdog, 4*s.link.minRTT); !ok || w < d {
			d, ok = w, true
		}
	}
	if ok {
		s.timer.Reset(d)
	}
}
