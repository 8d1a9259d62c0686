package pipeline

import "time"

// Adaptation of one peer stream to its link.
const (
	// minHold and maxHold bound how long a stream stays at the lighter rendition before it
	// tries full quality again; a try that saturates the link within probeSpan doubles it.
	minHold   = 2 * time.Second
	maxHold   = 32 * time.Second
	probeSpan = 5 * time.Second
	// probeQuiet is how long a try of full quality still counts as a limited link: long
	// enough for a saturation to show (demandWindow), so that a failing try does not make the
	// peer's indicator flicker.
	probeQuiet = time.Second
	// saturatedShare is the share of the time the link must set the pace with changes to count
	// as saturated; idleShare the busy share below which a stream at the lighter
	// rendition tries full quality before its hold ends (the lighter rendition costs about
	// half, so full quality is likely to fit).
	saturatedShare = 0.85
	idleShare      = 0.4
	// linkReportInterval is how often a limited link is reported again with a fresh rate.
	linkReportInterval = 2 * time.Second
	// minTimer is the shortest wait the adapter arms its timer for.
	minTimer = 10 * time.Millisecond
)

// adapter chooses a peer stream's rendition from whether its link is saturated (changes keep
// waiting for the transport): lighter while it is, then, after a hold, full quality again
// (a probe); a probe that saturates the link soon goes back to lighter for twice as long. A
// link that became mostly idle at the lighter rendition (it freed up) gets a probe after
// minHold already.
// It also decides when the link is reported to the peer.
type adapter struct {
	lighter bool
	probing bool // full quality again after a hold, for less than probeSpan
	since   time.Time
	hold    time.Duration
	sat     bool          // the link was saturated at the last decision
	lag     time.Duration // smoothed age of a round's oldest change when its FRAME went

	last       Link      // the link last reported
	reportedAt time.Time // when, zero before the first report
}

// roundDone takes the age of the oldest change of a round that was just completed.
func (a *adapter) roundDone(lag time.Duration) {
	if a.lag == 0 {
		a.lag = lag
		return
	}
	a.lag += (lag - a.lag) / 4
}

// decide chooses the rendition now from the load of the link: the shares of the recent past
// during which the link set the pace (busy) and did with the desktop's changes (saturated); ok
// false for too few samples (an idle desktop), which counts as idle.
func (a *adapter) decide(now time.Time, busy, saturation float64, ok bool) {
	saturated := ok && saturation >= saturatedShare
	idle := !ok || busy < idleShare
	a.sat = saturated
	held := now.Sub(a.since)
	switch {
	case !a.lighter && saturated:
		if a.probing {
			a.hold = min(2*a.hold, maxHold)
		} else {
			a.hold = minHold
		}
		a.lighter, a.probing, a.since = true, false, now
	case a.lighter && !saturated && (held >= a.hold || idle && held >= minHold):
		a.lighter, a.probing, a.since = false, true, now
	case a.probing && held >= probeSpan:
		a.probing = false
	}
}

// limited reports whether the link is the limit: saturated, carrying the lighter rendition, or
// in the first moments of a try of full quality.
func (a *adapter) limited(now time.Time) bool {
	return a.sat || a.lighter || a.probing && now.Sub(a.since) < probeQuiet
}

// report reports whether l should be told to the peer now: when it became or stopped being
// limited or lighter, and again every linkReportInterval while limited.
func (a *adapter) report(now time.Time, l Link) bool {
	changed := l.Limited != a.last.Limited || l.Lighter != a.last.Lighter
	if !changed && (!l.Limited || now.Sub(a.reportedAt) < linkReportInterval) {
		return false
	}
	a.last, a.reportedAt = l, now
	return true
}

// next returns how long until the adapter needs a pass even if nothing changes: the end of a
// hold at the lighter rendition or of a try's first moments, or the next report of a limited
// link.
func (a *adapter) next(now time.Time) (time.Duration, bool) {
	var at time.Time
	if a.lighter {
		// Past the hold, only a link still saturated keeps the stream lighter: look again once
		// the samples that said so are out of the window (a quiet desktop brings no passes of
		// its own).
		if at = a.since.Add(a.hold); !at.After(now) {
			at = now.Add(demandWindow)
		}
	}
	if a.probing && now.Sub(a.since) < probeQuiet {
		if q := a.since.Add(probeQuiet); at.IsZero() || q.Before(at) {
			at = q // the link may stop counting as limited then
		}
	}
	if !a.reportedAt.IsZero() && a.last.Limited {
		if r := a.reportedAt.Add(linkReportInterval); at.IsZero() || r.Before(at) {
			at = r
		}
	}
	if at.IsZero() {
		return 0, false
	}
	return max(at.Sub(now), minTimer), true
}
