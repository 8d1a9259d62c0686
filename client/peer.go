package client

import (
	"context"
	"fmt"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
)

// maxPendingCandidates bounds the remote candidates queued before the answer arrives.
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
