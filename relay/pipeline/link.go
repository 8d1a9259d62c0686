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
	// linkSamples is how many samples of the transport's drain the estimator keeps, at least
	// minSampleGap apart: enough to cover demandWindow.
	linkSamples  = 256
	minSampleGap = 2 * time.Millisecond
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
	rate            float64 // the rate measured with this sample
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
		if delivered < prev.delivered || now.Sub(prev.at) < minSampleGap {
			return
		}
	}
	i := l.next
	l.samples[i] = linkSample{at: now, delivered: delivered, busy: busy, saturated: saturated}
	l.next = (l.next + 1) % linkSamples
	l.n = min(l.n+1, linkSamples)
	l.measure(now)
	l.samples[i].rate = l.rate
}

// measure updates the rate from the samples of the last rateWindow: the bytes delivered in
// busy intervals over their time, or, if higher, everything delivered over the whole window.
// Such an app-limited figure is a lower bound of the link's rate: it may raise the rate, never
// lower it, so that a quiet desktop does not shrink the peer's queue.
func (l *linkEstimator) measure(now time.Time) {
	var busyBytes, allBytes uint64
	var busyTime, allTime time.Duration
	l.intervals(now, rateWindow, func(cur linkSample, d uint64, dt time.Duration) {
		allBytes, allTime = allBytes+d, allTime+dt
		if cur.busy {
			busyBytes, busyTime = busyBytes+d, busyTime+dt
		}
	})
	if busyTime >= minBusy {
		l.rate, l.measured = float64(busyBytes)/busyTime.Seconds(), true
	}
	if allTime >= rateWindow/2 {
		if r := float64(allBytes) / allTime.Seconds(); r > l.rate {
			l.rate, l.measured = r, true
		}
	}
}

// intervals calls f, newest first, for each interval between two samples that began within
// window of now, with the interval's closing sample, the bytes delivered in it and its length.
func (l *linkEstimator) intervals(now time.Time, window time.Duration, f func(cur linkSample, delivered uint64, dt time.Duration)) {
	for i := 1; i < l.n; i++ {
		cur := l.samples[(l.next-i+2*linkSamples)%linkSamples]
		prev := l.samples[(l.next-i-1+2*linkSamples)%linkSamples]
		if now.Sub(prev.at) > window {
			return
		}
		f(cur, cur.delivered-prev.delivered, cur.at.Sub(prev.at))
	}
}

// growing reports whether the rate grew by more than a quarter over the last demandWindow, or
// was not measured all that time: the stream is still finding the link's capacity (its queue,
// which follows the rate, may have been the limit), so waiting for the transport does not mean
// the link is saturated.
func (l *linkEstimator) growing(now time.Time) bool {
	oldest := l.rate
	l.intervals(now, demandWindow, func(cur linkSample, _ uint64, _ time.Duration) { oldest = cur.rate })
	return oldest == 0 || l.rate > 1.25*oldest
}

// load returns the shares of the last demandWindow during which the link set the pace (busy)
// and did with the desktop's changes (saturated), or ok false if the samples cover less than
// half of the window.
func (l *linkEstimator) load(now time.Time) (busy, saturated float64, ok bool) {
	var b, sat, all time.Duration
	l.intervals(now, demandWindow, func(cur linkSample, _ uint64, dt time.Duration) {
		all += dt
		if cur.busy {
			b += dt
		}
		if cur.saturated {
			sat += dt
		}
	})
	if all < demandWindow/2 {
		return 0, 0, false
	}
	return float64(b) / float64(all), float64(sat) / float64(all), true
}

// inFlight returns the bytes the path holds at the measured rate over the smallest recent
// round trip.
func (l *linkEstimator) inFlight() uint64 { return uint64(l.rate * l.minRTT.Seconds()) }

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
// (within the same bounds) before the first measurement. While the rate is growing it counts
// two round trips, so that the path may carry twice the rate measured and the rate (and the
// queue with it) reaches the link's capacity within a few measurements instead of holding
// itself down; once it stopped, one, since the round trips measured then include the queue.
func (l *linkEstimator) highWater(now time.Time, queueDelay time.Duration, most uint64) uint64 {
	least := min(uint64(minHighWater), most)
	if !l.measured {
		return min(uint64(initialHighWater), most)
	}
	rtts := time.Duration(1)
	if l.growing(now) {
		rtts = 2
	}
	hw := uint64(l.rate * (queueDelay + rtts*l.minRTT).Seconds())
	return min(max(hw, least), most)
}
