package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// run is the session's signaling loop: it reads the server's messages and makes, offers,
// restarts and closes peer connections accordingly. It alone changes s.peer. It returns why
// the session ended.
func (s *Session) run() error {
	msgs := make(chan proto.Message)
	readErr := make(chan error, 1)
	s.wg.Add(1)
	go func() { // ends when the WebSocket closes, at the latest once the session ended
		defer s.wg.Done()
		readErr <- s.readLoop(msgs)
	}()
	var m proto.Message
	select {
	case m = <-msgs:
	case err := <-readErr:
		return err
	}
	if m.Type != proto.TypeHello {
		return fmt.Errorf("%w: first message is %q, not hello", ErrProtocol, m.Type)
	}
	s.iceServers = toWebRTCServers(m.ICEServers)
	ev := s.log.Debug().Bool("readOnly", m.ReadOnly).Int("iceServers", len(m.ICEServers))
	if m.Identity != nil {
		ev = ev.Str("name", m.Identity.Name).Str("role", m.Identity.Role)
	}
	ev.Msg("hello")
	s.mu.Lock()
	s.hello = m
	s.mu.Unlock()
	watchdog := time.NewTimer(time.Hour)
	watchdog.Stop()
	defer watchdog.Stop()
	for {
		select {
		case m := <-msgs:
			if err := s.handle(m); err != nil {
				return err
			}
		case err := <-readErr:
			return err
		case <-s.iceChanged:
		case <-watchdog.C:
		}
		if err := s.watchICE(watchdog); err != nil {
			return err
		}
	}
}

// readLoop hands the server's messages to run, in order, until the WebSocket fails.
func (s *Session) readLoop(msgs chan<- proto.Message) error {
	for {
		m, err := s.sig.read()
		if err != nil {
			return err
		}
		select {
		case msgs <- m:
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		}
	}
}

// handle acts on one signaling message; an error ends the session.
func (s *Session) handle(m proto.Message) error {
	switch m.Type {
	case proto.TypeState:
		s.log.Info().Str("state", m.State).Str("reason", m.Message).Msg("host state")
		switch m.State {
		case proto.StateHostAvailable:
			s.closePeer() // a new offer replaces the previous peer connection
			return s.openPeer()
		case proto.StateHostUnavailable:
			s.closePeer()
		case proto.StateEnded:
			return fmt.Errorf("%w: %s", ErrEnded, m.Message)
		}
	case proto.TypeAnswer:
		if p := s.currentPeer(); p == nil {
			s.log.Warn().Msg("answer without a peer connection: ignored")
		} else if err := p.setAnswer(m.SDP); err != nil {
			p.log.Warn().Err(err).Msg("answer refused")
		}
	case proto.TypeCandidate:
		if p := s.currentPeer(); p != nil {
			p.addCandidate(*m.Candidate)
		}
	case proto.TypeICEServers:
		s.updateICEServers(m.ICEServers)
	case proto.TypeDraining: // the server shuts down; the session goes on until it does
		s.log.Info().Str("reason", m.Message).Msg("server draining")
		s.events.push(wire.Control{Type: proto.TypeDraining, Message: m.Message})
	case proto.TypeError:
		s.log.Warn().Str("code", m.Code).Str("reason", m.Message).Msg("signaling error")
		s.events.push(wire.Control{Type: wire.ControlError, Code: m.Code, Message: m.Message})
		if m.Code == proto.CodeRenegotiate && s.currentPeer() != nil {
			s.closePeer() // the agent dropped it: a new one starts from a full frame
			return s.openPeer()
		}
	default:
		s.log.Warn().Str("type", m.Type).Msg("unexpected signaling message: ignored")
	}
	return nil
}

func (s *Session) currentPeer() *peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer
}

// openPeer makes a peer connection with the three negotiated channels and offers it.
func (s *Session) openPeer() error {
	pc, err := s.api.NewPeerConnection(s.rtcConfig())
	if err != nil {
		return fmt.Errorf("client: new peer connection: %w", err)
	}
	n := s.peerConns.Add(1)
	ctx, cancel := context.WithCancel(s.ctx)
	p := &peer{pc: pc, ctx: ctx, cancel: cancel, log: s.log.With().Uint64("pc", n).Logger()}
	s.mu.Lock()
	s.peer = p // from here on, closePeer (at the latest when run returns) closes pc
	s.mu.Unlock()

	ordered, negotiated := true, true
	for _, c := range []struct {
		label string
		id    uint16
	}{{wire.ControlLabel, wire.ControlID}, {wire.DisplayLabel, wire.DisplayID}, {wire.InputLabel, wire.InputID}} {
		id := c.id
		dc, err := pc.CreateDataChannel(c.label, &webrtc.DataChannelInit{Ordered: &ordered, Negotiated: &negotiated, ID: &id})
		if err != nil {
			return fmt.Errorf("client: create %s channel: %w", c.label, err)
		}
		dc.OnOpen(func() { s.attach(p, dc, id) })
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) { s.trickle(p, localCandidate(c)) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug().Stringer("state", st).Msg("peer connection state")
	})
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		p.log.Debug().Stringer("state", st).Msg("ICE connection state")
		select { // run's watchICE reads the state itself: one pending wake-up is enough
		case s.iceChanged <- struct{}{}:
		default:
		}
	})
	return s.offer(p, nil)
}

// offer makes an offer on p (with opts, e.g. an ICE restart) and sends it. Local candidates
// are held meanwhile and sent after it, so that none overtakes it: pion gathers as soon as
// SetLocalDescription runs, and for an ICE restart already in CreateOffer. Called by run.
func (s *Session) offer(p *peer, opts *webrtc.OfferOptions) error {
	p.holdCandidates()
	defer s.releaseCandidates(p)
	offer, err := p.pc.CreateOffer(opts)
	if err != nil {
		return fmt.Errorf("client: create offer: %w", err)
	}
	if err := s.signal(proto.Message{Type: proto.TypeOffer, SDP: offer.SDP}); err != nil {
		return err
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("client: set offer: %w", err)
	}
	p.remoteSet = false // the agent's candidates wait for its answer
	return nil
}

// closePeer closes the current peer connection, if any; its channel readers then end.
func (s *Session) closePeer() {
	s.mu.Lock()
	p := s.peer
	s.peer = nil
	s.link = wire.Control{} // a new peer connection starts with a link that keeps up
	if p != nil {
		p.closed = true
	}
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.cancel()
	if err := p.pc.Close(); err != nil {
		p.log.Warn().Err(err).Msg("close peer connection")
	}
}

// attach detaches an open data channel and, once all three are open, starts their readers:
// the channels open in any order, and a FRAME read before the input channel is attached would
// let WaitFrames (and Join) return while input still fails with ErrNotConnected. It runs on a
// pion goroutine, possibly after the peer or the whole session was closed.
func (s *Session) attach(p *peer, dc *webrtc.DataChannel, id uint16) {
	raw, err := dc.Detach()
	if err != nil {
		p.log.Error().Err(err).Str("channel", dc.Label()).Msg("detach data channel")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.closed {
		_ = raw.Close()
		return
	}
	switch id {
	case wire.ControlID:
		p.control = raw
	case wire.DisplayID:
		p.display = raw
	case wire.InputID:
		p.input = raw
	}
	p.log.Debug().Str("channel", dc.Label()).Msg("data channel open")
	if p.control == nil || p.display == nil || p.input == nil {
		return
	}
	dropInput := func(b []byte) {
		s.sampled.Warn().Int("bytes", len(b)).Msg("unexpected message on the input channel: dropped")
	}
	var consumed wire.Consumption
	display := p.display
	caps := s.caps
	if s.fb.videoGivenUp() {
		caps &^= wire.CapVideo
	}
	if _, err := display.WriteDataChannel(wire.EncodeCaps(caps), false); err != nil {
		p.log.Debug().Err(err).Msg("display features not announced") // the relay sends tiles only
	}
	applyDisplay := func(b []byte) {
		if s.tapDisplay != nil {
			s.tapDisplay(p.ctx, b)
		}
		s.fb.apply(b)
		if s.fb.giveUpVideo() { // frames keep failing to decode: ask for tiles instead
			p.log.Warn().Msg("video frames do not decode: asking for tiles")
			if _, err := display.WriteDataChannel(wire.EncodeCaps(s.caps&^wire.CapVideo), false); err != nil {
				p.log.Debug().Err(err).Msg("display features not announced")
			}
		}
		if m := consumed.Applied(b); m != nil {
			if _, err := display.WriteDataChannel(m, false); err != nil {
				p.log.Debug().Err(err).Msg("report of applied display bytes not sent")
			}
		}
	}
	s.wg.Add(3) // run's own count keeps the group above zero while p is open: no race with Wait
	for _, r := range []struct {
		ch        channel
		keep      int
		freezable bool
		handle    func([]byte)
	}{{p.control, smallRead, false, s.handleControl}, {p.display, wire.MaxMessage, true, applyDisplay}, {p.input, smallRead, false, dropInput}} {
		go func() {
			defer s.wg.Done()
			s.readChannel(p, r.ch, r.keep, r.freezable, r.handle)
		}()
	}
}

// smallRead is the buffer the control and input readers keep between messages: more than most
// control messages (the relay sends nothing on input). The display reader, busy whenever the
// desktop changes, keeps one of wire.MaxMessage.
const smallRead = 1 << 10

// readChannel hands every message of ch to handle until the channel or the peer closes. It
// keeps a buffer of keep bytes; a message that does not fit is read again into one of
// wire.MaxMessage, dropped after it (pion keeps a message at the head of the stream until a
// read has room for it). The display reader stops while the session is frozen, leaving the
// backlog to the relay.
func (s *Session) readChannel(p *peer, ch channel, keep int, freezable bool, handle func([]byte)) {
	kept := make([]byte, keep)
	buf := kept
	for {
		if freezable && !s.waitThawed(p.ctx) {
			return
		}
		n, _, err := ch.ReadDataChannel(buf)
		if errors.Is(err, io.ErrShortBuffer) && len(buf) < wire.MaxMessage {
			buf = make([]byte, wire.MaxMessage)
			continue
		}
		if err != nil {
			if errors.Is(err, io.ErrShortBuffer) {
				// pion keeps the oversized message at the head of the stream: nothing after it
				// can ever be read.
				s.fail(fmt.Errorf("%w: data-channel message over %d bytes", ErrProtocol, wire.MaxMessage))
			} else if p.ctx.Err() == nil {
				p.log.Debug().Err(err).Msg("data channel read ended")
			}
			return
		}
		handle(buf[:n])
		buf = kept
	}
}

// handleControl records and delivers a control message from the relay.
func (s *Session) handleControl(b []byte) {
	c, err := wire.DecodeControl(b)
	if err != nil {
		s.sampled.Warn().Err(err).Msg("control: message dropped")
		return
	}
	if s.tapControl != nil {
		s.tapControl(c.Type, b)
	}
	switch c.Type {
	case wire.ControlWelcome:
		s.mu.Lock()
		s.welcome = c
		s.mu.Unlock()
	case wire.ControlError:
		s.log.Warn().Str("code", c.Code).Str("reason", c.Message).Msg("relay error")
	case wire.ControlLink:
		s.mu.Lock()
		s.link = c
		s.mu.Unlock()
	case wire.ControlPresence:
		if err := s.setRoster(c); err != nil {
			s.sampled.Warn().Err(err).Msg("control: presence dropped")
			return
		}
	}
	s.events.push(c)
}
