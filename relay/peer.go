package relay

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// Limits of one peer at the agent.
const (
	// peerEvents bounds the events waiting for a peer's goroutine. More means the peer floods
	// the agent with signaling (the server's budgets make that rare): the agent drops it.
	peerEvents = 64
	// maxQueuedCandidates bounds the remote candidates held before the first offer.
	maxQueuedCandidates = 64
	// maxCandidates bounds the remote candidates a peer may trickle per offer (one ICE
	// generation): pion pairs each with the agent's and checks every pair.
	maxCandidates = 32
	// badInputInterval is the least time between two bad-input errors sent to one peer.
	badInputInterval = 200 * time.Millisecond
)

// peerEventKind says what a peerEvent is about.
type peerEventKind int

const (
	evOffer          peerEventKind = iota // sdp: an offer from the peer
	evCandidate                           // cand: a trickled remote candidate
	evState                               // pc's connection state changed to state
	evControlOpen                         // pc's control channel dc opened
	evDisplayOpen                         // pc's display channel dc opened
	evStreamEnded                         // pc's display stream ended on an error
	evControlStuck                        // pc's control channel stayed full
	evOversized                           // a channel of pc got a message over wire.MaxMessage
	evRestartExpired                      // the ICE restart of pc did not succeed in time
	evICEServers                          // new ICE servers (cfg) for the peer connection
	evCall                                // run call on the peer's goroutine
)

// peerEvent is one thing that happened to a peer, for its goroutine to handle. Every peer's
// queue has room for peerEvents of them: what only some kinds carry is held by pointer.
type peerEvent struct {
	kind  peerEventKind
	pc    *webrtc.PeerConnection // the peer connection a pion event is about
	sdp   string
	cand  *proto.Candidate
	state webrtc.PeerConnectionState
	dc    *webrtc.DataChannel
	inbox *displayInbox // with evDisplayOpen
	cfg   *webrtc.Configuration
	call  func()
}

// peer is one participant's WebRTC connection to the agent. The server vouched for its
// identity and read-only flag in the join message; the agent trusts nothing the peer says.
// One goroutine (run) owns the peer connection and everything about it: the agent's read loop
// and pion's callbacks hand it events without waiting, so that one peer's negotiation never
// holds up another's.
type peer struct {
	agent    *Agent
	sig      *sigConn
	id       string
	identity wire.Identity
	readOnly bool
	// askControl: the peer's input counts only while it holds control (handoff.go).
	askControl bool
	recordKeys bool // the recorder's: it gets key and clipboard input too (set before it is listed)
	log        zerolog.Logger

	events    chan peerEvent
	stop      chan struct{} // closed by close
	done      chan struct{} // closed when run has returned
	closeOnce sync.Once
	dropOnce  sync.Once
	// ctl sends the current peer connection's control messages; nil before its control
	// channel opens. Set by run under agent.evMu, read by anyone.
	ctl atomic.Pointer[controlSender]

	// Owned by run.
	pc         *webrtc.PeerConnection
	session    uint64 // the o= session id of the offer that made pc
	stream     *pipeline.PeerStream
	pending    []webrtc.ICECandidateInit // candidates that came before the first offer
	candidates int                       // remote candidates since the last offer
	restart    *time.Timer               // ends an ICE restart that takes too long; nil for none
}

func newPeer(a *Agent, sig *sigConn, id string, ident proto.Identity, readOnly, askControl bool) *peer {
	p := &peer{
		agent:      a,
		sig:        sig,
		id:         id,
		identity:   wire.Identity{Name: ident.Name, Role: ident.Role},
		readOnly:   readOnly,
		askControl: askControl,
		log:        a.log.With().Str("peer", id).Logger(),
		events:     make(chan peerEvent, peerEvents),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go p.run()
	return p
}

// post hands ev to the peer's goroutine without waiting. A peer whose events pile up beyond
// peerEvents floods the agent: it is stopped (its peer connection closed) until the server
// says it left.
func (p *peer) post(ev peerEvent) {
	select {
	case p.events <- ev:
	case <-p.stop:
	default:
		p.dropOnce.Do(func() {
			p.agent.flooding.Add(1)
			p.agent.noisy.Warn().Str("peer", p.id).Int("queued", peerEvents).Msg("peer floods the agent with signaling: dropped")
			p.refuse(proto.CodeBadMessage, "too many signaling messages: the host dropped this peer")
			p.stopNow()
		})
	}
}

// refuse tells the peer, through the server, that the agent refused something of it.
func (p *peer) refuse(code, message string) {
	p.sig.send(proto.Message{Type: proto.TypeError, Peer: p.id, Code: code, Message: message})
}

// stopNow tells the peer's goroutine to end, which closes the peer connection and the display
// stream; it does not wait. Safe to call more than once, from any goroutine.
func (p *peer) stopNow() { p.closeOnce.Do(func() { close(p.stop) }) }

// close ends the peer as stopNow does and returns once its goroutine has. Safe to call more
// than once, from any goroutine but the peer's.
func (p *peer) close() {
	p.stopNow()
	<-p.done
}

// call runs f on the peer's goroutine, where it may read what the goroutine owns, and waits
// for it; it reports false if the peer stopped first.
func (p *peer) call(f func()) bool {
	done := make(chan struct{})
	select {
	case p.events <- peerEvent{kind: evCall, call: func() { f(); close(done) }}:
	case <-p.stop:
		return false
	}
	select {
	case <-done:
		return true
	case <-p.done:
		return false
	}
}

func (p *peer) run() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			p.dropConnection()
			p.log.Info().Msg("peer left")
			return
		case ev := <-p.events:
			p.handle(ev)
		}
	}
}

// handle acts on one event; pion's events about a peer connection that is no longer the
// peer's are ignored.
func (p *peer) handle(ev peerEvent) {
	if ev.pc != nil && ev.pc != p.pc {
		return
	}
	switch ev.kind {
	case evOffer:
		p.offer(ev.sdp)
	case evCandidate:
		p.candidate(*ev.cand)
	case evState:
		p.stateChanged(ev.state)
	case evControlOpen:
		p.controlOpened(ev.dc)
	case evDisplayOpen:
		p.displayOpened(ev.dc, ev.inbox)
	case evStreamEnded:
		p.reset("the host's display stream to this peer ended")
	case evControlStuck:
		p.reset("this peer stopped reading its control channel")
	case evOversized:
		p.reset("this peer sent a data-channel message over the protocol's limit")
	case evRestartExpired:
		p.restartExpired()
	case evCall:
		ev.call()
	case evICEServers:
		if p.pc != nil {
			if err := p.pc.SetConfiguration(*ev.cfg); err != nil {
				p.log.Debug().Err(err).Msg("fresh ICE servers refused")
			}
		}
	}
}

// offer answers a peer's offer: on the current peer connection when the peer re-offered on
// the connection it has (an ICE restart, say), else with a fresh peer connection that
// replaces any previous one.
func (p *peer) offer(sdp string) {
	session, err := offerSession(sdp)
	if err != nil {
		p.agent.noisy.Warn().Str("peer", p.id).Err(err).Msg("refused offer")
		p.refuse(proto.CodeBadSDP, "the offer was refused: "+err.Error())
		return
	}
	p.candidates = 0
	sdp = p.screenOffer(sdp)
	if p.pc != nil && p.session == session && p.pc.ConnectionState() != webrtc.PeerConnectionStateClosed {
		p.renegotiate(sdp)
		return
	}
	pc, err := p.newPeerConnection()
	if err != nil {
		p.log.Error().Err(err).Msg("create peer connection")
		p.refuse(proto.CodeInternal, "the host could not create a peer connection")
		return
	}
	answer, err := negotiate(pc, sdp)
	if err != nil {
		_ = pc.Close()
		p.agent.noisy.Warn().Str("peer", p.id).Err(err).Msg("refused offer")
		p.refuse(proto.CodeBadSDP, "the offer was refused: "+err.Error())
		return
	}
	p.dropConnection()
	p.pc, p.session = pc, session
	pending := p.pending
	p.pending = nil
	for _, c := range pending {
		p.addCandidate(c)
	}
	p.sig.send(proto.Message{Type: proto.TypeAnswer, Peer: p.id, SDP: answer})
}

// renegotiate answers a re-offer on the peer's current connection: its data channels and
// display stream go on. An ICE restart offer restarts the agent's ICE too; the peer stays
// present while the restart is under way, for at most AgentConfig.RestartGrace.
func (p *peer) renegotiate(sdp string) {
	answer, err := negotiate(p.pc, sdp)
	if err != nil {
		p.agent.noisy.Warn().Str("peer", p.id).Err(err).Msg("refused re-offer")
		p.refuse(proto.CodeBadSDP, "the offer was refused: "+err.Error())
		return
	}
	if p.restart == nil {
		pc := p.pc
		p.agent.timers.Add(1)
		p.restart = time.AfterFunc(p.agent.cfg.RestartGrace, func() {
			defer p.agent.timers.Done()
			p.post(peerEvent{kind: evRestartExpired, pc: pc})
		})
	}
	p.log.Info().Str("state", p.pc.ConnectionState().String()).Msg("peer re-offered: renegotiated on its connection")
	p.sig.send(proto.Message{Type: proto.TypeAnswer, Peer: p.id, SDP: answer})
}

// stateChanged follows the peer connection's state: connected ends an ICE restart (and makes
// a peer whose presence ended meanwhile present again); failed and closed end its presence,
// unless an ICE restart is under way.
func (p *peer) stateChanged(s webrtc.PeerConnectionState) {
	p.log.Debug().Str("state", s.String()).Msg("peer connection state")
	switch s {
	case webrtc.PeerConnectionStateConnected:
		if p.endRestart() {
			p.log.Info().Msg("ICE restart succeeded")
		}
		if ctl := p.ctl.Load(); ctl != nil && !p.agent.presence.present(p.id, p.pc) {
			p.agent.presence.join(p.id, p.pc, p.identity, p.readOnly, ctl.sendPresence)
		}
	case webrtc.PeerConnectionStateFailed:
		if p.restart != nil {
			p.log.Info().Msg("peer connection failed during an ICE restart: still present")
			return
		}
		p.agent.presence.leave(p.id, p.pc)
	case webrtc.PeerConnectionStateClosed:
		p.agent.presence.leave(p.id, p.pc)
	}
}

// restartExpired ends the presence of a peer whose ICE restart did not bring the connection
// back within AgentConfig.RestartGrace. The peer connection stays: a later restart that succeeds makes
// the peer present again.
func (p *peer) restartExpired() {
	if !p.endRestart() || p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
		return
	}
	p.log.Info().Dur("grace", p.agent.cfg.RestartGrace).Msg("ICE restart did not succeed in time: peer no longer present")
	p.agent.presence.leave(p.id, p.pc)
}

// endRestart forgets the ICE restart under way and reports whether there was one.
func (p *peer) endRestart() bool {
	if p.restart == nil {
		return false
	}
	if p.restart.Stop() {
		p.agent.timers.Done() // the callback will never run
	}
	p.restart = nil
	return true
}

// controlOpened starts the control channel's sender with the welcome, the desktop's state and
// the host clipboard, and makes the peer present. The agent's event lock keeps every desktop
// event either in what the sender starts with or after it.
func (p *peer) controlOpened(dc *webrtc.DataChannel) {
	a := p.agent
	pc := p.pc
	w, h := a.pipeline.Size()
	ident := p.identity
	welcome := wire.Control{Type: wire.ControlWelcome, Peer: p.id, Identity: &ident, ReadOnly: p.readOnly, AskControl: p.askControl, Width: w, Height: h}.Encode()
	ctl := newControlSender(dc, welcome, p.log, func() { p.post(peerEvent{kind: evControlStuck, pc: pc}) })
	a.evMu.Lock()
	if a.down.Load() {
		ctl.set(slotDesktop, a.desktopMessage())
	}
	if !p.readOnly && a.clipboard != nil {
		ctl.set(slotClipboard, a.clipboard)
	}
	if old := p.ctl.Swap(ctl); old != nil {
		defer old.close()
	}
	a.evMu.Unlock()
	a.presence.join(p.id, pc, p.identity, p.readOnly, ctl.sendPresence)
	a.pointers.join(p.id, func(msg []byte) { ctl.set(slotPointers, msg) })
	a.handoff.join(p.id, p.identity.Name, func(msg []byte) { ctl.set(slotControl, msg) })
}

// reset drops the peer connection after a fault of the agent's side of it and asks the peer to
// offer a new one, whose stream starts from a full frame.
func (p *peer) reset(why string) {
	p.log.Warn().Str("why", why).Msg("dropping the peer connection; the peer is asked for a new one")
	p.dropConnection()
	p.refuse(proto.CodeRenegotiate, why+": offer a new peer connection")
}

// dropConnection closes the peer connection, its display stream and its control sender, and
// ends the peer's presence through it.
func (p *peer) dropConnection() {
	p.endRestart()
	if p.stream != nil {
		p.stream.Close()
		p.stream = nil
	}
	if ctl := p.ctl.Swap(nil); ctl != nil {
		p.agent.pointers.leave(p.id)
		p.agent.handoff.leave(p.id)
		ctl.close()
	}
	if p.pc == nil {
		return
	}
	p.agent.presence.leave(p.id, p.pc)
	if err := p.pc.Close(); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
		p.log.Debug().Err(err).Msg("close peer connection")
	}
	p.pc = nil
}

// setControl makes msg the peer's next control message of its kind, if its control channel
// is open.
func (p *peer) setControl(slot int, msg []byte) {
	if ctl := p.ctl.Load(); ctl != nil {
		ctl.set(slot, msg)
	}
}

// controlError tells the peer its last message was refused, at most every badInputInterval.
func (p *peer) controlError(code, message string) {
	if ctl := p.ctl.Load(); ctl != nil {
		ctl.error(code, message)
	}
}

// candidate adds a trickled remote candidate, or queues it until the first offer arrives.
// Beyond maxCandidates per offer, and for addresses the agent refuses to probe (see
// checkCandidate), the peer gets an error.
func (p *peer) candidate(c proto.Candidate) {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	if c.Candidate == "" { // the end of the peer's candidates
		if p.pc != nil {
			_ = p.pc.AddICECandidate(init)
		}
		return
	}
	if err := p.agent.checkCandidate(c.Candidate); err != nil {
		p.agent.candidatesRefused.Add(1)
		p.refuse(proto.CodeBadMessage, "candidate refused: "+err.Error())
		return
	}
	if p.pc == nil {
		if len(p.pending) < maxQueuedCandidates {
			p.pending = append(p.pending, init)
		}
		return
	}
	p.addCandidate(init)
}

// addCandidate gives the current peer connection one more remote candidate, within
// maxCandidates per offer.
func (p *peer) addCandidate(init webrtc.ICECandidateInit) {
	if p.candidates >= maxCandidates {
		p.agent.candidatesRefused.Add(1)
		if p.candidates == maxCandidates {
			p.refuse(proto.CodeBadMessage, "too many candidates for one offer")
		}
		p.candidates++
		return
	}
	p.candidates++
	if err := p.pc.AddICECandidate(init); err != nil {
		p.refuse(proto.CodeBadMessage, "candidate refused: "+err.Error())
	}
}
