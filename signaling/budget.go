package signaling

import (
	"time"

	"golang.org/x/time/rate"

	"peerdesk/signaling/proto"
)

// The signaling budget of one peer socket: what it may send towards the agent. A peer over it
// gets a rate-limited error and is disconnected (docs/PROTOCOL.md, section 2); the agent never
// hears of the excess. The bursts cover a negotiation and a few ICE restarts, the rates a peer
// restarting ICE every few seconds for ever.
const (
	offerBurst, offersPerSecond         = 16, 0.5
	candidateBurst, candidatesPerSecond = 128, 16
	errorBurst, errorsPerSecond         = 8, 1
	byteBurst, bytesPerSecond           = 256 << 10, 32 << 10
)

// signalBudget is one peer socket's token buckets.
type signalBudget struct {
	offers, candidates, errors, bytes *rate.Limiter
}

func newSignalBudget() *signalBudget {
	return &signalBudget{
		offers:     rate.NewLimiter(offersPerSecond, offerBurst),
		candidates: rate.NewLimiter(candidatesPerSecond, candidateBurst),
		errors:     rate.NewLimiter(errorsPerSecond, errorBurst),
		bytes:      rate.NewLimiter(bytesPerSecond, byteBurst),
	}
}

// spend charges m to the budget at now; it returns "" while the budget holds, else what ran
// out ("offers", "candidates", "errors", "bytes").
func (b *signalBudget) spend(m proto.Message, now time.Time) string {
	size := len(m.SDP) + len(m.Message)
	if c := m.Candidate; c != nil {
		size += len(c.Candidate)
		for _, s := range []*string{c.SDPMid, c.UsernameFragment} {
			if s != nil {
				size += len(*s)
			}
		}
	}
	var kind *rate.Limiter
	var what string
	switch m.Type {
	case proto.TypeOffer:
		kind, what = b.offers, "offers"
	case proto.TypeCandidate:
		kind, what = b.candidates, "candidates"
	case proto.TypeError:
		kind, what = b.errors, "errors"
	default:
		return ""
	}
	if !kind.AllowN(now, 1) {
		return what
	}
	if !b.bytes.AllowN(now, size) {
		return "bytes"
	}
	return ""
}
