package relay

import (
	"errors"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// maxQueuedCandidates bounds the remote candidates held before an offer arrives.
const maxQueuedCandidates = 64

// badInputInterval is the least time between two bad-input errors sent to one peer.
const badInputInterval = 200 * time.Millisecond

// restartGrace is how long a peer restarting ICE (it re-offered on its peer connection) stays
// present while its connection is not back (docs/PROTOCOL.md, 3.1 presence).
const restartGrace = 30 * time.Second

// peer is one participant's WebRTC connection to the agent. The server vouched for its
// identity and read-only flag in the join message; the agent trusts nothing the peer says.
type peer struct {
	agent    *Agent
	sig      *sigConn
	id       string
	identity wire.Identity
	readOnly bool
	log      zerolog.Logger

	mu         sync.Mutex
	closed     bool
	pc         *webrtc.PeerConnection
	control    *webrtc.DataChannel
	stream     *pipeline.PeerStream
	pending    []webrtc.ICECandidateInit
	lastBadMsg time.Time
	// session is the o= session id of the offer that made pc: a later offer with the same id
	// comes from the same RTCPeerConnection and is answered on pc.
	session uint64
	// restartAt is when the ICE restart under way began (zero when none); restartTimer ends
	// the peer's presence if the connection is not back restartGrace later.
	restartAt    time.Time
	restartTimer *time.Timer
}

func newPeer(a *Agent, sig *sigConn, id string, ident proto.Identity, readOnly bool) *peer {
	return &peer{
		agent:    a,
		sig:      sig,
		id:       id,
		identity: wire.Identity{Name: ident.Name, Role: ident.Role},
		readOnly: readOnly,
		log:      a.log.With().Str("peer", id).Logger(),
	}
}

// offer answers a peer's offer: on the current peer connection when the peer re-offered on
// the connection it has (an ICE restart, say), else with a fresh peer connection that
// replaces any previous one.
func (p *peer) offer(sdp string) {
	session, err := offerSession(sdp)
	if err != nil {
		p.log.Warn().Err(err).Msg("refused offer")
		p.sig.send(proto.Message{Type: proto.TypeError, Peer: p.id, Code: proto.CodeBadSDP, Message: "the offer was refused: " + err.Error()})
		return
	}
	if pc := p.renegotiable(session); pc != nil {
		p.renegotiate(pc, sdp)
		return
	}
	pc, err := p.newPeerConnection()
	if err != nil {
		p.log.Error().Err(err).Msg("create peer connection")
		p.sig.send(proto.Message{Type: proto.TypeError, Peer: p.id, Code: proto.CodeInternal, Message: "the host could not create a peer connection"})
		return
	}
	answer, err := p.negotiate(pc, sdp)
	if err != nil {
		_ = pc.Close()
		p.log.Warn().Err(err).Msg("refused offer")
		p.sig.send(proto.Message{Type: proto.TypeError, Peer: p.id, Code: proto.CodeBadSDP, Message: "the offer was refused: " + err.Error()})
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = pc.Close()
		return
	}
	old, oldStream := p.pc, p.stream
	p.pc, p.stream, p.control, p.session = pc, nil, nil, session
	pending := p.pending
	p.pending = nil
	p.endRestartLocked()
	p.mu.Unlock()
	if oldStream != nil {
		oldStream.Close()
	}
	if old != nil {
		p.agent.presence.leave(p.id, old)
		_ = old.Close()
	}
	for _, c := range pending {
		if err := pc.AddICECandidate(c); err != nil {
			p.log.Debug().Err(err).Msg("queued candidate refused")
		}
	}
	p.sig.send(proto.Message{Type: proto.TypeAnswer, Peer: p.id, SDP: answer})
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

// renegotiable returns the current peer connection if it was made by an offer with this
// session id and is not closed; nil otherwise.
func (p *peer) renegotiable(session uint64) *webrtc.PeerConnection {
	p.mu.Lock()
	pc, same := p.pc, p.session == session
	p.mu.Unlock()
	if pc == nil || !same || pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return nil
	}
	return pc
}

// renegotiate answers a re-offer on the peer's current connection pc: its data channels and
// display stream go on. An ICE restart offer restarts the agent's ICE too; the peer stays
// present while the restart is under way, for at most restartGrace.
func (p *peer) renegotiate(pc *webrtc.PeerConnection, sdp string) {
	answer, err := p.negotiate(pc, sdp)
	if err != nil {
		p.log.Warn().Err(err).Msg("refused re-offer")
		p.sig.send(proto.Message{Type: proto.TypeError, Peer: p.id, Code: proto.CodeBadSDP, Message: "the offer was refused: " + err.Error()})
		return
	}
	p.mu.Lock()
	if p.closed || p.pc != pc {
		p.mu.Unlock()
		return
	}
	if p.restartAt.IsZero() {
		p.restartAt = time.Now()
		p.restartTimer = time.AfterFunc(restartGrace, func() { p.restartExpired(pc) })
	}
	p.mu.Unlock()
	p.log.Info().Str("state", pc.ConnectionState().String()).Msg("peer re-offered: renegotiated on its connection")
	p.sig.send(proto.Message{Type: proto.TypeAnswer, Peer: p.id, SDP: answer})
}

// restartExpired ends the presence of a peer whose ICE restart on pc did not bring the
// connection back within restartGrace. The peer connection stays: a later restart that
// succeeds makes the peer present again.
func (p *peer) restartExpired(pc *webrtc.PeerConnection) {
	p.mu.Lock()
	if p.closed || p.pc != pc || p.restartAt.IsZero() {
		p.mu.Unlock()
		return
	}
	p.endRestartLocked()
	p.mu.Unlock()
	if pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
		return
	}
	p.log.Info().Dur("grace", restartGrace).Msg("ICE restart did not succeed in time: peer no longer present")
	p.agent.presence.leave(p.id, pc)
}

// restarting reports whether an ICE restart of pc is under way.
func (p *peer) restarting(pc *webrtc.PeerConnection) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && p.pc == pc && !p.restartAt.IsZero()
}

// endRestartLocked forgets the ICE restart under way, if any; p.mu is held.
func (p *peer) endRestartLocked() {
	if p.restartTimer != nil {
		p.restartTimer.Stop()
	}
	p.restartAt, p.restartTimer = time.Time{}, nil
}

// connected handles pc reaching connected: an ICE restart under way succeeded, and a peer
// whose presence ended meanwhile (its restart took longer than restartGrace) is present again.
func (p *peer) connected(pc *webrtc.PeerConnection) {
	p.mu.Lock()
	if p.closed || p.pc != pc {
		p.mu.Unlock()
		return
	}
	restarted := !p.restartAt.IsZero()
	p.endRestartLocked()
	control := p.control
	p.mu.Unlock()
	if restarted {
		p.log.Info().Msg("ICE restart succeeded")
	}
	if control != nil && !p.agent.presence.present(p.id, pc) {
		p.present(pc, control)
	}
}

// present makes the peer present through pc, unless pc was replaced or closed meanwhile:
// offer and close end the presence of the peer connection they drop after the peer's mutex.
func (p *peer) present(pc *webrtc.PeerConnection, control *webrtc.DataChannel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed && p.pc == pc {
		p.agent.presence.join(p.id, pc, p.identity, p.readOnly, func(b []byte) error { return control.SendText(string(b)) })
	}
}

func (p *peer) negotiate(pc *webrtc.PeerConnection, sdp string) (string, error) {
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
		if c == nil {
			return
		}
		p.sig.send(proto.Message{Type: proto.TypeCandidate, Peer: p.id, Candidate: toProtoCandidate(c.ToJSON())})
	})
	a := p.agent
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { // on a goroutine of its own
		p.log.Debug().Str("state", s.String()).Msg("peer connection state")
		switch {
		case s == webrtc.PeerConnectionStateConnected:
			p.connected(pc)
		case s == webrtc.PeerConnectionStateFailed && p.restarting(pc):
			p.log.Info().Msg("peer connection failed during an ICE restart: still present")
		case s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed:
			a.presence.leave(p.id, pc)
		}
	})
	control.OnOpen(func() {
		a.evMu.Lock() // no desktop event between the state sent here and the peer's registration
		defer a.evMu.Unlock()
		p.mu.Lock()
		if p.closed || p.pc != pc {
			p.mu.Unlock()
			return
		}
		p.control = control
		p.mu.Unlock()
		w, h := a.pipeline.Size()
		ident := p.identity
		_ = control.SendText(string(wire.Control{Type: wire.ControlWelcome, Peer: p.id, Identity: &ident, ReadOnly: p.readOnly, Width: w, Height: h}.Encode()))
		if a.down.Load() {
			_ = control.SendText(string(a.desktopMessage()))
		}
		if !p.readOnly && a.clipboard != nil {
			_ = control.SendText(string(a.clipboard))
		}
		p.present(pc, control)
	})
	control.OnMessage(func(msg webrtc.DataChannelMessage) {
		c, err := wire.DecodeControl(msg.Data)
		if err != nil {
			p.controlError(wire.CodeBadMessage, err.Error())
			return
		}
		p.controlError(wire.CodeUnknownType, "unknown control message type "+truncate(c.Type, 32))
	})
	display.OnOpen(func() {
		s := a.pipeline.AddPeer(displayChannel{DataChannel: display, sctp: pc.SCTP()}, pipeline.PeerOptions{OnLink: p.linkChanged})
		display.OnBufferedAmountLow(s.Wake)
		s.Wake() // a drain before the callback was set went unseen
		p.mu.Lock()
		if p.closed || p.pc != pc {
			p.mu.Unlock()
			s.Close()
			return
		}
		p.stream = s
		p.mu.Unlock()
	})
	input.OnMessage(p.input)
	return pc, nil
}

// input applies one input message, unless the peer is read-only or the message is bad.
func (p *peer) input(msg webrtc.DataChannelMessage) {
	if msg.IsString {
		p.agent.inputBad.Add(1)
		p.controlError(wire.CodeBadInput, "input messages are binary")
		return
	}
	w, h := p.agent.pipeline.Size()
	in, err := wire.DecodeInput(msg.Data, w, h)
	if err != nil {
		p.agent.inputBad.Add(1)
		p.controlError(wire.CodeBadInput, err.Error())
		return
	}
	if p.readOnly {
		p.agent.inputRO.Add(1)
		return
	}
	if !p.agent.down.Load() {
		err = p.agent.cfg.Source.Input(in)
		if err == nil {
			p.agent.inputApplied.Add(1)
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

// sendControl sends a control message if the peer's control channel is open.
func (p *peer) sendControl(b []byte) {
	p.mu.Lock()
	c := p.control
	p.mu.Unlock()
	if c != nil {
		_ = c.SendText(string(b))
	}
}

// linkChanged tells the peer what its display stream measured of its link (docs/PROTOCOL.md,
// 3.1 link).
func (p *peer) linkChanged(l pipeline.Link) {
	state := wire.LinkOK
	if l.Limited {
		state = wire.LinkLimited
	}
	p.log.Debug().Str("state", state).Bool("lighter", l.Lighter).Uint64("rate", l.Rate).Dur("lag", l.Lag).Msg("peer link")
	p.sendControl(wire.Control{Type: wire.ControlLink, State: state, Rate: l.Rate, Lighter: l.Lighter}.Encode())
}

// controlError tells the peer its last message was refused, at most every badInputInterval.
func (p *peer) controlError(code, message string) {
	p.mu.Lock()
	c := p.control
	now := time.Now()
	if c == nil || now.Sub(p.lastBadMsg) < badInputInterval {
		p.mu.Unlock()
		return
	}
	p.lastBadMsg = now
	p.mu.Unlock()
	_ = c.SendText(string(wire.Control{Type: wire.ControlError, Code: code, Message: message}.Encode()))
}

// candidate adds a trickled remote candidate, or queues it until an offer arrives.
func (p *peer) candidate(c proto.Candidate) {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	p.mu.Lock()
	pc := p.pc
	if pc == nil {
		if len(p.pending) < maxQueuedCandidates {
			p.pending = append(p.pending, init)
		}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if err := pc.AddICECandidate(init); err != nil {
		p.sig.send(proto.Message{Type: proto.TypeError, Peer: p.id, Code: proto.CodeBadMessage, Message: "candidate refused: " + err.Error()})
	}
}

// close ends the peer's connection and its display stream; safe to call twice.
func (p *peer) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	pc, s := p.pc, p.stream
	p.pc, p.stream, p.control = nil, nil, nil
	p.endRestartLocked()
	p.mu.Unlock()
	p.agent.presence.leave(p.id, pc)
	if s != nil {
		s.Close()
	}
	if pc != nil {
		if err := pc.Close(); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
			p.log.Debug().Err(err).Msg("close peer connection")
		}
	}
	p.log.Info().Msg("peer left")
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
