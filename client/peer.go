package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
)

// maxPendingCandidates bounds the remote candidates queued before the answer arrives, and
// the local ones held while an offer is made.
const maxPendingCandidates = 64

// channel is what the client needs of a detached data channel.
type channel interface {
	ReadDataChannel(p []byte) (n int, isString bool, err error)
	WriteDataChannel(p []byte, isString bool) (n int, err error)
	Close() error
}

// peer is one peer connection to the host's relay agent: a new one is made every time the
// host becomes available.
type peer struct {
	pc     *webrtc.PeerConnection
	ctx    context.Context // ends when the peer is closed
	cancel context.CancelFunc
	log    zerolog.Logger

	// Used by the session's run goroutine only.
	remoteSet bool
	pending   []webrtc.ICECandidateInit
	// restarts counts the ICE restarts since the connection was last up; nextRestart is when
	// the next is due (zero when none is).
	restarts    int
	nextRestart time.Time

	// candMu guards the local candidates held while an offer is made, and orders their
	// sending.
	candMu  sync.Mutex
	holding bool
	held    []proto.Message

	// Guarded by Session.mu. The channels are nil until open; their readers start once all
	// three are, so that a FRAME received means input can be sent too.
	closed  bool
	control channel
	display channel
	input   channel
}

// setAnswer applies the agent's answer, then the candidates that came before it (pion
// refuses candidates until the remote description is set).
func (p *peer) setAnswer(sdp string) error {
	if st := p.pc.SignalingState(); st != webrtc.SignalingStateHaveLocalOffer {
		return fmt.Errorf("%w: answer in signaling state %s", ErrProtocol, st)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("client: set answer: %w", err)
	}
	p.remoteSet = true
	for _, c := range p.pending {
		p.addRemote(c)
	}
	p.pending = nil
	return nil
}

// addCandidate applies a trickled remote candidate, or queues it until the answer.
func (p *peer) addCandidate(c proto.Candidate) {
	init := webrtc.ICECandidateInit{
		Candidate:        c.Candidate,
		SDPMid:           c.SDPMid,
		SDPMLineIndex:    c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment,
	}
	switch {
	case p.remoteSet:
		p.addRemote(init)
	case len(p.pending) < maxPendingCandidates:
		p.pending = append(p.pending, init)
	default:
		p.log.Warn().Msg("too many candidates before the answer: dropping one")
	}
}

func (p *peer) addRemote(c webrtc.ICECandidateInit) {
	if err := p.pc.AddICECandidate(c); err != nil {
		p.log.Warn().Err(err).Msg("remote candidate refused")
	}
}

// holdCandidates holds the local candidates gathered from now on until releaseCandidates.
func (p *peer) holdCandidates() {
	p.candMu.Lock()
	p.holding = true
	p.candMu.Unlock()
}

// releaseCandidates sends the held local candidates and stops holding them.
func (s *Session) releaseCandidates(p *peer) {
	p.candMu.Lock()
	defer p.candMu.Unlock()
	for _, m := range p.held {
		_ = s.signal(m) // a failure ends the session
	}
	p.holding, p.held = false, nil
}

// trickle sends a local candidate, or holds it while an offer is being made. It runs on
// pion's goroutine, so it never blocks: a candidate that cannot be queued ends the session
// (see Session.signal).
func (s *Session) trickle(p *peer, m proto.Message) {
	p.candMu.Lock()
	defer p.candMu.Unlock()
	switch {
	case !p.holding:
		_ = s.signal(m) // a failure ends the session
	case len(p.held) < maxPendingCandidates:
		p.held = append(p.held, m)
	default:
		p.log.Warn().Msg("too many local candidates during an offer: dropping one")
	}
}

// localCandidate turns a gathered candidate (nil at the end of gathering) into a signaling
// message.
func localCandidate(c *webrtc.ICECandidate) proto.Message {
	m := proto.Message{Type: proto.TypeCandidate, Candidate: &proto.Candidate{}}
	if c != nil {
		init := c.ToJSON()
		m.Candidate = &proto.Candidate{
			Candidate:        init.Candidate,
			SDPMid:           init.SDPMid,
			SDPMLineIndex:    init.SDPMLineIndex,
			UsernameFragment: init.UsernameFragment,
		}
	}
	return m
}
