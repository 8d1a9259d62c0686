package relay

import (
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
)

// A peer's display channel: its pipeline stream, the reports and features the peer sends on
// it, and what the stream measures of the peer's link.

// displayOpened starts the peer's display stream on the display channel.
func (p *peer) displayOpened(dc *webrtc.DataChannel) {
	pc := p.pc
	s := p.agent.pipeline.AddPeer(displayChannel{DataChannel: dc, sctp: pc.SCTP()}, pipeline.PeerOptions{
		OnLink: p.linkChanged,
		OnEnd:  func(error) { p.post(peerEvent{kind: evStreamEnded, pc: pc}) },
	})
	dc.OnBufferedAmountLow(s.Wake)
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		typ, v, err := wire.DecodePeerDisplay(msg.Data)
		switch {
		case err != nil:
			p.controlError(wire.CodeBadMessage, err.Error())
		case typ == wire.MsgCaps:
			s.SetCaps(v)
		default:
			s.Consumed(v)
		}
	})
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
