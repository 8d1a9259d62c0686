package pipeline

import (
	"time"
)

// Link is what a peer stream measured of its peer's link.
type Link struct {
	// Limited says the link carries less than the desktop produces: the peer gets fewer
	// updates (stale versions skipped) and, where a lighter encoding exists, the lighter one.
	Limited bool
	// Lighter says photographic tiles go to the peer at the lighter rendition.
	Lighter bool
	// Rate is the delivery rate measured while the link was busy, in bytes per second; 0
	// before the first measurement.
	Rate uint64
	// Lag is the smoothed time from a change of the desktop to the update that carries it
	// leaving the stream (queueing in the transport, at most its high-water mark, comes on top).
	Lag time.Duration
}

// Link measurement.
const (
	// linkSamples is how many samples of the transport's drain the estimator keeps.
	linkSamples = 64
	// rateWindow is how far back busy intervals count towards the rate; minBusy is the least
	// busy time that makes a measurement.
	rateWindow = 400 * time.Millisecond
	minBusy    = 30 * time.Millisecond
	// demandWindow is how far back the estimator looks for the link's load: how much of the
	// time the transport held data, and held changes.
	demandWindow = 600 * time.Millisecond
	// rttWindow is how long the smallest round-trip time seen is kept.
	rttWindow = 10 * time.Second
	// minHighWater and initialHighWater bound a peer's high-water mark from below, and set it
	// before the first measurement.
	minHighWater     = 16 << 10
	initialHighWater = 256 << 10
)

// linkSample is the transport's state at one wake of the stream.
type linkSample struct {
	at        time.Time
	delivered uint64 // bytes the far end acknowledged so far: sent minus buffered
	// busy says the link, not the desktop, set the pace in the interval since the previous
	// sample; saturated that it did with the desktop's changes (not full-quality copies of
	// lighter tiles, which only fill idle time).
	busy, saturated bool
}

// linkEstimator measures a peer's link from the drain of its transport buffer: bytes sent
// minus bytes still buffered are bytes the far end acknowledged, and over intervals in which
// the link set the pace (busy) their growth is the link's delivery rate. It sizes the peer's
// high-water mark from that rate and the transport's smallest recent round-trip time.
type linkEstimator struct {
	samples  [linkSamples]linkSample // a ring; next is the slot of the next sample
	next, n  int
	rate     float64 // bytes per second
	measured bool    // rate holds a measurement
	minRTT   time.Duration
	rttAt    time.Time // when minRTT was taken
}

// sample records the transport's state now: delivered bytes so far, and whether the link set
// the pace since the previous sample (busy), with the desktop's changes (saturated).
func (l *linkEstimator) sample(now time.Time, delivered uint64, busy, saturated bool) {
	if l.n > 0 {
		prev := l.samples[(l.next+linkSamples-1)%linkSamples]
		if delivered < prev.delivered || !now.After(prev.at) {
			return
		}
	}
	l.samples[l.next] = linkSample{at: now, delivered: delivered, busy: busy, saturated: saturated}
	l.next = (l.next + 1) % linkSamples
	l.n = min(l.n+1, linkSamples)
	l.measure(now)
}

// measure updates the rate from the samples of the last rateWindow: the bytes delivered in
// busy intervals over their time, or, if higher, everything delivered over the whole window.
// Such an app-limited figure is a lower bound of the link's rate: it may raise the rate, never
// lower it, so that a quiet desktop does not shrink the peer's queue.
func (l *linkEstimator) measure(now time.Time) {
	var busyBytes, allBytes uint64
	var busyTime, allTime time.Duration
	for i := 1; i < l.n; i++ {
		cur := l.samples[(l.next-i+2*linkSamples)%linkSamples]
		prev := l.samples[(l.next-i-1+2*linkSamples)%linkSamples]
		if now.Sub(prev.at) > rateWindow {
			break
		}
		d, dt := cur.delivered-prev.delivered, cur.at.Sub(prev.at)
		allBytes, allTime = allBytes+d, allTime+dt
		if cur.busy {
			busyBytes, busyTime = busyBytes+d, busyTime+dt
		}
	}
	if busyTime >= minBusy {
		l.rate, l.measured = float64(busyBytes)/busyTime.Seconds(), true
	}
	if r := float64(allBytes) / allTime.Seconds(); allTime >= rateWindow/2 && r > l.rate {
		l.rate, l.measured = r, true
	}
}

// load returns the shares of the last demandWindow during which the link set the pace (busy)
// and did with the desktop's changes (saturated), or ok false if the samples cover less than
// half of the window.
func (l *linkEstimator) load(now time.Time) (busy, saturated float64, ok bool) {
	var b, sat, all time.Duration
	for i := 1; i < l.n; i++ {
		cur := l.samples[(l.next-i+2*linkSamples)%linkSamples]
		prev := l.samples[(l.next-i-1+2*linkSamples)%linkSamples]
		if now.Sub(prev.at) > demandWindow {
			break
		}
		dt := cur.at.Sub(prev.at)
		all += dt
		if cur.busy {
			b += dt
		}
		if cur.saturated {
			sat += dt
		}
	}
	if all < demandWindow/2 {
		return 0, 0, false
	}
	return float64(b) / float64(all), float64(sat) / float64(all), true
}

// observeRTT takes a round-trip time the transport measured; 0 means unknown.
func (l *linkEstimator) observeRTT(now time.Time, rtt time.Duration) {
	if rtt <= 0 {
		return
	}
	if l.minRTT == 0 || rtt < l.minRTT || now.Sub(l.rttAt) > rttWindow {
		l.minRTT, l.rttAt = rtt, now
	}
}

// highWater returns the peer's high-water mark: what the link delivers in queueDelay plus one
// round trip at the measured rate, within [min(minHighWater, most), most]; initialHighWater
// (within the same bounds) before the first measurement.
func (l *linkEstimator) highWater(queueDelay time.Duration, most uint64) uint64 {
	least := min(uint64(minHighWater), most)
	if !l.measured {
		return min(uint64(initialHighWater), most)
	}
	hw := uint64(l.rate * (queueDelay + l.minRTT).Seconds())
	return min(max(hw, least), most)
}
