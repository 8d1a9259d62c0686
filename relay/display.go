package relay

import (
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
)

// A peer's display channel: its pipeline stream, the reports and features the peer sends on
// it, and what the stream measures of the peer's link.

// displayInbox takes what the peer sends on one peer connection's display channel, from
// before the channel opens: the peer's CAPS may come before its stream exists.
type displayInbox struct {
	p      *peer
	caps   atomic.Uint32 // the wire.Cap bits announced, read by the stream at every pass
	stream atomic.Pointer[pipeline.PeerStream]
	// refreshed is when the last REFRESH was honoured (Unix nanoseconds; read and written by
	// the channel's reader only).
	refreshed int64
}

// message handles one message of the display channel (its reader's goroutine).
func (in *displayInbox) message(b []byte, _ bool) {
	typ, v, err := wire.DecodePeerDisplay(b)
	if err != nil {
		in.p.controlError(wire.CodeBadMessage, err.Error())
		return
	}
	if typ == wire.MsgCaps {
		in.caps.Store(v)
	}
	switch s := in.stream.Load(); {
	case s == nil: // a report before the stream: it counts from the stream's start anyway
	case typ == wire.MsgCaps:
		s.Wake()
	case typ == wire.MsgRefresh:
		// Ignored when too frequent: a peer asking for the whole desktop over and over costs
		// its own link only, but is held to what a recorder needs.
		if now := time.Now().UnixNano(); now-in.refreshed >= int64(wire.RefreshEvery) {
			in.refreshed = now
			s.Refresh()
		}
	default:
		s.Consumed(v)
	}
}

// displayOpened starts the peer's display stream on the display channel.
func (p *peer) displayOpened(dc *webrtc.DataChannel, inbox *displayInbox) {
	pc := p.pc
	s := p.agent.pipeline.AddPeer(displayChannel{DataChannel: dc, sctp: pc.SCTP()}, pipeline.PeerOptions{
		OnLink: p.linkChanged,
		OnEnd:  func(error) { p.post(peerEvent{kind: evStreamEnded, pc: pc}) },
		Caps:   &inbox.caps,
	})
	dc.OnBufferedAmountLow(s.Wake)
	inbox.stream.Store(s)
	s.Wake() // a drain before the callback was set went unseen
	if p.stream != nil {
		p.stream.Close()
	}
	p.stream = s
}

// linkChanged tells the peer what its display stream measured of its link (docs/PROTOCOL.md,
// 3.1 link). It runs on the stream's goroutine.
func (p *peer) linkChanged(l pipeline.Link) {
	state := wire.LinkOK
	if l.Limited {
		state = wire.LinkLimited
	}
	p.log.Debug().Str("state", state).Bool("lighter", l.Lighter).Uint64("rate", l.Rate).Dur("lag", l.Lag).Msg("peer link")
	p.setControl(slotLink, wire.Control{Type: wire.ControlLink, State: state, Rate: l.Rate, Lighter: l.Lighter}.Encode())
}

// displayChannel is a peer's display data channel as its pipeline stream sends on it, with the
// round-trip time of the peer connection's SCTP association.
type displayChannel struct {
	*webrtc.DataChannel
	sctp *webrtc.SCTPTransport
}

// RTT implements pipeline.RTTSender.
func (d displayChannel) RTT() time.Duration {
	return time.Duration(d.sctp.Stats().SmoothedRoundTripTime * float64(time.Second))
}
