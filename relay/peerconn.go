package relay

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// newPeerConnection makes a peer connection with the three negotiated channels, whose pion
// callbacks become events of the peer's goroutine; each channel's messages are read on a
// goroutine of its own (input, which touches nothing of the peer's, is applied there).
func (p *peer) newPeerConnection() (*webrtc.PeerConnection, error) {
	pc, err := p.agent.api.NewPeerConnection(webrtc.Configuration{ICEServers: p.agent.iceServers()})
	if err != nil {
		return nil, err
	}
	chans := make([]*webrtc.DataChannel, 3)
	for i, label := range []string{wire.ControlLabel, wire.DisplayLabel, wire.InputLabel} {
		id := uint16(i)
		yes := true
		chans[i], err = pc.CreateDataChannel(label, &webrtc.DataChannelInit{Negotiated: &yes, ID: &id, Ordered: &yes})
		if err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	control, display, input := chans[wire.ControlID], chans[wire.DisplayID], chans[wire.InputID]
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			p.sig.send(proto.Message{Type: proto.TypeCandidate, Peer: p.id, Candidate: toProtoCandidate(c.ToJSON())})
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.post(peerEvent{kind: evState, pc: pc, state: s})
	})
	control.OnOpen(func() {
		p.read(pc, control, p.controlMessage)
		p.post(peerEvent{kind: evControlOpen, pc: pc, dc: control})
	})
	inbox := &displayInbox{p: p}
	display.OnOpen(func() {
		p.read(pc, display, inbox.message) // at once: CAPS may come before the stream exists
		p.post(peerEvent{kind: evDisplayOpen, pc: pc, dc: display, inbox: inbox})
	})
	input.OnOpen(func() { p.read(pc, input, p.input) })
	return pc, nil
}

// readBuffer is what each channel's reader keeps between messages: more than any message of
// the display channel (CONSUMED, CAPS) and any input message but a clipboard one. The agent
// detaches its data channels (SettingEngine.DetachDataChannels) because pion's own read loop
// holds a 64 KiB buffer per open channel, three per peer.
const readBuffer = 512

// largeBuffers lends the channel readers the wire.MaxMessage buffer a message larger than
// readBuffer needs, so that a peer sending many of them costs no allocation per message.
var largeBuffers = sync.Pool{New: func() any { b := make([]byte, wire.MaxMessage); return &b }}

// read detaches the open channel dc of pc and hands each of its messages to handle, on a
// goroutine of its own, until the channel closes (with pc). A message that does not fit
// readBuffer is read again into a buffer of wire.MaxMessage, dropped after it. One over
// wire.MaxMessage, the protocol's limit, would stay at the head of the stream for ever (pion
// keeps a message its reader has no room for): the peer is told, and asked for a new peer
// connection.
func (p *peer) read(pc *webrtc.PeerConnection, dc *webrtc.DataChannel, handle func(b []byte, isString bool)) {
	raw, err := dc.Detach()
	if err != nil {
		p.log.Error().Err(err).Str("channel", dc.Label()).Msg("detach data channel")
		return
	}
	go func() {
		small := make([]byte, readBuffer)
		buf, large := small, (*[]byte)(nil)
		for {
			n, isString, err := raw.ReadDataChannel(buf)
			switch {
			case errors.Is(err, io.ErrShortBuffer) && len(buf) < wire.MaxMessage:
				large = largeBuffers.Get().(*[]byte)
				buf = *large
				continue
			case errors.Is(err, io.ErrShortBuffer):
				p.controlError(wire.CodeBadMessage, fmt.Sprintf("%s message over %d bytes", dc.Label(), wire.MaxMessage))
				p.post(peerEvent{kind: evOversized, pc: pc})
				return
			case err != nil: // the channel or its peer connection closed
				return
			}
			handle(buf[:n], isString)
			if large != nil {
				largeBuffers.Put(large)
			}
			buf, large = small, nil
		}
	}()
}

// controlMessage handles a message of the control channel: peers send only hand-off requests
// (handoff.go).
func (p *peer) controlMessage(b []byte, _ bool) {
	c, err := wire.DecodeControl(b)
	if err != nil {
		p.controlError(wire.CodeBadMessage, err.Error())
		return
	}
	switch c.Type {
	case wire.ControlRequestControl, wire.ControlReleaseControl, wire.ControlGiveControl, wire.ControlTakeControl, wire.ControlHandoff:
		if code, message := p.agent.handoff.handle(p, c); code != "" {
			p.controlError(code, message)
		}
	default:
		p.controlError(wire.CodeUnknownType, "unknown control message type "+truncate(c.Type, 32))
	}
}

// negotiate applies an offer to pc and returns the answer.
func negotiate(pc *webrtc.PeerConnection, sdp string) (string, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", err
	}
	return answer.SDP, nil
}

// offerSession returns the o= session id of an offer. JSEP keeps it for every offer of one
// RTCPeerConnection; a peer that made a new RTCPeerConnection (after host-available, or to
// resynchronise) has a new one. The offer is parsed here on a copy of its own: pion's session
// descriptions (RemoteDescription and the like) cache their parse, shared with pion's
// goroutines, and must never be unmarshalled by us.
func offerSession(sdp string) (uint64, error) {
	parsed, err := (&webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}).Unmarshal()
	if err != nil {
		return 0, err
	}
	return parsed.Origin.SessionID, nil
}

// input applies one input message, unless the peer is read-only or the message is bad.
func (p *peer) input(b []byte, isString bool) {
	if isString {
		p.agent.inputBad.Add(1)
		p.controlError(wire.CodeBadInput, "input messages are binary")
		return
	}
	w, h := p.agent.pipeline.Size()
	in, err := wire.DecodeInput(b, w, h)
	if err != nil {
		p.agent.inputBad.Add(1)
		p.controlError(wire.CodeBadInput, err.Error())
		return
	}
	if in.Type == wire.MsgPointer || in.Type == wire.MsgPointAt { // everyone's pointer, a viewer's too
		p.agent.pointers.move(p.id, p.identity.Name, in.X, in.Y)
	}
	if in.Type == wire.MsgPointAt { // only shown, never applied
		return
	}
	if p.readOnly {
		p.agent.inputRO.Add(1)
		return
	}
	if p.agent.handoff.gated(p) { // it must ask for control, and does not hold it
		p.agent.inputNoControl.Add(1)
		return
	}
	if !p.agent.down.Load() {
		err = p.agent.cfg.Source.Input(in)
		if err == nil {
			p.agent.inputApplied.Add(1)
			p.agent.recordInput(p, in.Type, b)
			return
		}
	}
	// The desktop went away before or while the source took the input.
	if p.agent.down.Load() {
		p.agent.inputDown.Add(1)
		p.controlError(wire.CodeDesktopUnavailable, "the host desktop is unavailable")
		return
	}
	p.agent.inputBad.Add(1)
	p.controlError(wire.CodeBadInput, err.Error())
}

// errTooManyCandidates refuses a candidate beyond maxCandidates of one offer.
var errTooManyCandidates = errors.New("more than the candidates one offer may carry")

// screenOffer removes from an offer's SDP the candidates the agent refuses to probe (see
// checkCandidate) and those beyond maxCandidates, and counts the others towards the offer's
// cap: the candidates of an offer get the checks trickled ones get. The peer is told once how
// many were refused.
func (p *peer) screenOffer(sdp string) string {
	lines := strings.SplitAfter(sdp, "\n")
	kept := lines[:0]
	refused := 0
	var first error
	for _, l := range lines {
		attr, ok := strings.CutPrefix(strings.TrimRight(l, "\r\n"), "a=")
		if ok && strings.HasPrefix(attr, "candidate:") {
			err := p.agent.checkCandidate(attr)
			if err == nil && p.candidates >= maxCandidates {
				err = errTooManyCandidates
			}
			if err != nil {
				refused++
				first = cmp.Or(first, err)
				continue
			}
			p.candidates++
		}
		kept = append(kept, l)
	}
	if refused == 0 {
		return sdp
	}
	p.agent.candidatesRefused.Add(uint64(refused))
	p.refuse(proto.CodeBadMessage, fmt.Sprintf("%d candidates of the offer refused: %v", refused, first))
	return strings.Join(kept, "")
}

// checkCandidate refuses a remote candidate the agent must not probe from the host's network:
// one that names a loopback, link-local, multicast or unspecified address or one of the agent's
// own, unless AllowLocalCandidates (peers on the host itself, tests), and one that names a
// host other than an mDNS .local name (the agent would resolve it).
func (a *Agent) checkCandidate(s string) error {
	c, err := ice.UnmarshalCandidate(s)
	if err != nil {
		return fmt.Errorf("malformed candidate: %w", err)
	}
	host := c.Address()
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if strings.HasSuffix(host, ".local") {
			return nil
		}
		return fmt.Errorf("candidate names host %q, not an address", truncate(host, 64))
	}
	ip = ip.Unmap()
	if a.cfg.AllowLocalCandidates {
		return nil
	}
	if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return fmt.Errorf("candidate names %v, which the host does not probe", ip)
	}
	if a.ownAddress(ip) {
		return fmt.Errorf("candidate names one of the host's own addresses")
	}
	return nil
}

// ownAddress reports whether ip is an address of one of the host's interfaces.
func (a *Agent) ownAddress(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok {
			if own, ok := netip.AddrFromSlice(n.IP); ok && own.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

func toProtoCandidate(c webrtc.ICECandidateInit) *proto.Candidate {
	return &proto.Candidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
