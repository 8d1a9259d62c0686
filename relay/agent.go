package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/internal/pionlog"
	"peerdesk/internal/rtcconf"
	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// Agent is the host relay agent: it keeps a connection to the signaling server, answers
// peers' offers and serves them the desktop through one shared pipeline.
type Agent struct {
	cfg      AgentConfig
	log      zerolog.Logger
	noisy    zerolog.Logger // log, sampled: what a peer can make as frequent as it likes
	api      *webrtc.API
	pipeline *pipeline.Pipeline
	presence *presence
	pointers *pointerBoard
	handoff  *handoff

	connects     atomic.Uint64
	timers       sync.WaitGroup // peers' restart timer callbacks that may still run
	replaced     atomic.Uint64
	inputApplied atomic.Uint64
	inputRO      atomic.Uint64
	// inputNoControl counts input dropped from peers that must ask for control.
	inputNoControl atomic.Uint64
	inputBad       atomic.Uint64
	inputDown      atomic.Uint64
	// inputUnrecorded counts applied input a recorder never heard of (its queue was full).
	inputUnrecorded atomic.Uint64
	// recorders are the server's recorder peers (recorders.go), replaced on every change.
	recorders atomic.Pointer[[]*peer]

	candidatesRefused atomic.Uint64
	flooding          atomic.Uint64 // peers dropped for flooding the agent with events
	// down is set while the source reports its desktop unavailable; written under evMu.
	down atomic.Bool

	// evMu serialises what the source reports besides pixels (Notifier) with the peers' channels
	// opening, so that every peer gets the events in order and a late joiner the current state.
	evMu       sync.Mutex
	downReason string // why the desktop is unavailable, while down
	clipboard  []byte // the current clipboard control message, nil before the first

	// closing counts the peers being closed off the read loop; Run waits for them.
	closing sync.WaitGroup

	mu    sync.Mutex
	peers map[string]*peer
	// ice are the ICE servers (with TURN credentials) of the last hello or ice-servers message.
	ice []webrtc.ICEServer
	// online is closed and replaced each time the agent is welcomed by the server.
	online chan struct{}
}

// NewAgent checks cfg and builds an agent; Run starts it.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pcfg := cfg.Pipeline
	pcfg.Logger = cfg.Logger
	if d, ok := cfg.Source.(Demander); ok {
		pcfg.OnDemand = d.SetDemand // rest while no display stream is open
	}
	p, err := pipeline.New(pcfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With().Str("component", "relay").Logger()
	se := webrtc.SettingEngine{}
	if cfg.SettingEngine != nil {
		se = *cfg.SettingEngine
	}
	rtcconf.Apply(&se)
	se.DetachDataChannels() // the agent reads its channels itself, with small buffers (peer.read)
	se.SetICETimeouts(iceDisconnectedTimeout, iceFailedTimeout, iceKeepaliveInterval)
	se.LoggerFactory = pionlog.Factory{Log: log}
	return &Agent{
		cfg:      cfg,
		log:      log,
		noisy:    log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Second}),
		api:      newAPI(se),
		pipeline: p,
		presence: newPresence(log, presenceInterval),
		pointers: newPointerBoard(),
		handoff:  newHandoff(),
		peers:    make(map[string]*peer),
		online:   make(chan struct{}),
	}, nil
}

// newAPI returns the pion API of the agent's peer connections, which carry data channels only:
// no codecs (an offer's media sections are refused) and no RTP interceptors, whose state pion
// would otherwise keep for every peer connection.
func newAPI(se webrtc.SettingEngine) *webrtc.API {
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&webrtc.MediaEngine{}),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}

// ICE timeouts: a peer whose connection went silent (no leave, only a dead network) is
// disconnected after iceDisconnectedTimeout of silence and failed, and so no longer present,
// iceFailedTimeout later (pion counts one after the other: about 12 s in all); keepalives every iceKeepaliveInterval keep a live idle peer from looking
// dead.
const (
	iceDisconnectedTimeout = 4 * time.Second
	iceFailedTimeout       = 8 * time.Second
	iceKeepaliveInterval   = 2 * time.Second
)

// Pipeline returns the agent's pipeline (for stats and tests).
func (a *Agent) Pipeline() *pipeline.Pipeline { return a.pipeline }

// Stats returns the agent's counters.
func (a *Agent) Stats() AgentStats {
	a.mu.Lock()
	n := len(a.peers)
	a.mu.Unlock()
	return AgentStats{
		Pipeline:              a.pipeline.Stats(),
		Peers:                 n,
		Connects:              a.connects.Load(),
		Replaced:              a.replaced.Load(),
		InputApplied:          a.inputApplied.Load(),
		InputDroppedReadOnly:  a.inputRO.Load(),
		InputDroppedNoControl: a.inputNoControl.Load(),
		InputUnrecorded:       a.inputUnrecorded.Load(),
		PeersFlooding:         a.flooding.Load(),
		InputRejected:         a.inputBad.Load(),

		InputDroppedUnavailable: a.inputDown.Load(),
		DesktopAvailable:        !a.down.Load(),
		CandidatesRefused:       a.candidatesRefused.Load(),
	}
}

// WaitOnline blocks until the agent has been welcomed by the server at least once, or ctx ends.
func (a *Agent) WaitOnline(ctx context.Context) error {
	for a.connects.Load() == 0 {
		a.mu.Lock()
		ch := a.online
		a.mu.Unlock()
		if a.connects.Load() > 0 {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Run serves the desktop until ctx ends: it runs the source into the pipeline and keeps a
// connection to the signaling server, reconnecting with backoff. It returns when everything it
// started has stopped, with ctx's error or the source's fatal error. Replaced by another agent
// of the same connection, it waits ReplacedBackoff before it connects again.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	srcErr := make(chan error, 1)
	if n, ok := a.cfg.Source.(Notifier); ok {
		n.Notify(a.desktopChanged, a.cursorChanged, a.clipboardChanged)
	}
	if c, ok := a.cfg.Source.(Copier); ok {
		c.NotifyCopies(a.pipeline.Copy)
	}
	if d, ok := a.cfg.Source.(Demander); ok {
		d.SetDemand(false) // nobody watches yet: the pipeline says when someone does
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := a.cfg.Source.Run(ctx, a.pipeline.Update)
		if err != nil && ctx.Err() == nil {
			a.log.Error().Err(err).Msg("desktop source stopped")
		}
		srcErr <- err
		cancel()
	}()

	backoff := a.cfg.MinBackoff
	for attempt := 0; ctx.Err() == nil; attempt++ {
		welcomed, err := a.serve(ctx, attempt)
		a.closePeers()
		if ctx.Err() != nil {
			break
		}
		if welcomed {
			backoff = a.cfg.MinBackoff
		}
		wait := backoff + rand.N(backoff/4+1)
		switch {
		case errors.Is(err, errReplaced):
			a.replaced.Add(1)
			wait = a.cfg.ReplacedBackoff
			a.log.Error().Dur("retry_in", wait).Msg("another agent holding this connection's token took its place; if it is not yours, regenerate the connection's token (Settings or 'peerdesk connection token')")
		case errors.Is(err, errTokenRefused):
			a.log.Error().Err(err).Dur("retry_in", wait).Msg("the signaling server refused the agent token")
		default:
			a.log.Warn().Err(err).Dur("retry_in", wait).Msg("signaling connection lost")
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, a.cfg.MaxBackoff)
	}
	wg.Wait()
	a.timers.Wait()
	a.pipeline.Close()
	a.pointers.close()
	if err := <-srcErr; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// serve runs one signaling connection until it fails or ctx ends. welcomed reports whether the
// server accepted the agent.
func (a *Agent) serve(ctx context.Context, attempt int) (welcomed bool, err error) {
	h := http.Header{}
	for k, v := range a.cfg.HTTPHeader {
		h[k] = v
	}
	h.Set("Authorization", "Bearer "+a.cfg.Token)
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	ws, resp, err := dialer.DialContext(ctx, a.cfg.wsURL(attempt), h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return false, fmt.Errorf("dial signaling server: %w (the token is wrong or was regenerated)", errTokenRefused)
		}
		if resp != nil {
			return false, fmt.Errorf("dial signaling server: %w (HTTP %d)", err, resp.StatusCode)
		}
		return false, fmt.Errorf("dial signaling server: %w", err)
	}
	sc := newSigConn(ws, a.log)
	defer sc.close()
	stop := context.AfterFunc(ctx, sc.close)
	defer stop()

	for {
		m, err := sc.read()
		if websocket.IsCloseError(err, proto.CloseReplaced) {
			return welcomed, errReplaced
		}
		if err != nil {
			return welcomed, err
		}
		switch m.Type {
		case proto.TypeHello:
			if m.Connection != nil {
				a.log.Info().Int64("connection", m.Connection.ID).Str("name", m.Connection.Name).Msg("connected to signaling server")
			}
			welcomed = true
			a.setICEServers(m.ICEServers)
			a.connects.Add(1)
			a.mu.Lock()
			close(a.online)
			a.online = make(chan struct{})
			a.mu.Unlock()
		case proto.TypeICEServers:
			a.setICEServers(m.ICEServers)
		case proto.TypeJoin:
			a.join(sc, m)
		case proto.TypeOffer, proto.TypeCandidate:
			p := a.peer(m.Peer)
			if p == nil {
				sc.send(proto.Message{Type: proto.TypeError, Peer: m.Peer, Code: proto.CodeUnknownPeer, Message: "no join was announced for this peer"})
				continue
			}
			if m.Type == proto.TypeOffer {
				p.post(peerEvent{kind: evOffer, sdp: m.SDP})
			} else {
				p.post(peerEvent{kind: evCandidate, cand: m.Candidate})
			}
		case proto.TypeLeave:
			a.mu.Lock()
			p := a.peers[m.Peer]
			delete(a.peers, m.Peer)
			a.updateRecordersLocked()
			a.mu.Unlock()
			if p != nil {
				a.closeLater(p)
			}
		case proto.TypeError:
			a.log.Warn().Str("code", m.Code).Str("message", m.Message).Msg("signaling server refused a message")
		default:
			a.log.Warn().Str("type", m.Type).Msg("ignoring unknown signaling message")
		}
	}
}

func (a *Agent) join(sc *sigConn, m proto.Message) {
	if m.Peer == "" || m.Identity == nil {
		sc.send(proto.Message{Type: proto.TypeError, Code: proto.CodeBadMessage, Message: "join needs peer and identity"})
		return
	}
	p := newPeer(a, sc, m.Peer, *m.Identity, m.ReadOnly, m.AskControl)
	p.recordKeys = m.RecordKeys && p.recorder()
	a.mu.Lock()
	old := a.peers[m.Peer]
	a.peers[m.Peer] = p
	a.updateRecordersLocked()
	a.mu.Unlock()
	if old != nil {
		a.closeLater(old)
	}
	a.log.Info().Str("peer", m.Peer).Str("name", m.Identity.Name).Str("role", m.Identity.Role).Bool("read_only", m.ReadOnly).Msg("peer joined")
}

// desktopChanged tells every peer that the source's desktop went away or came back.
func (a *Agent) desktopChanged(available bool, reason string) {
	a.evMu.Lock()
	defer a.evMu.Unlock()
	if a.down.Load() != available {
		return
	}
	a.down.Store(!available)
	a.downReason = reason
	if available {
		a.log.Info().Msg("host desktop available again")
	} else {
		a.log.Warn().Str("reason", reason).Msg("host desktop unavailable")
	}
	msg := a.desktopMessage()
	for _, p := range a.peerList() {
		p.setControl(slotDesktop, msg)
	}
}

// desktopMessage returns the desktop control message of the current state; a.evMu is held.
func (a *Agent) desktopMessage() []byte {
	if !a.down.Load() {
		return wire.Control{Type: wire.ControlDesktop, State: wire.DesktopAvailable}.Encode()
	}
	return wire.Control{Type: wire.ControlDesktop, State: wire.DesktopUnavailable, Message: a.downReason}.Encode()
}

// cursorChanged encodes a new pointer shape once; the pipeline sends it to every peer.
func (a *Agent) cursorChanged(shape *image.NRGBA, hotspot image.Point) {
	msg, err := encodeCursor(shape, hotspot)
	if err != nil {
		a.log.Warn().Err(err).Msg("dropping the desktop's cursor shape")
		return
	}
	a.pipeline.SetCursor(msg)
}

// clipboardChanged sends the host clipboard's new text to every full-access peer; read-only
// participants never read it.
func (a *Agent) clipboardChanged(text string) {
	msg := wire.EncodeClipboardControl(text)
	a.evMu.Lock()
	defer a.evMu.Unlock()
	if bytes.Equal(msg, a.clipboard) {
		return
	}
	a.clipboard = msg
	a.log.Debug().Int("bytes", len(text)).Msg("host clipboard changed") // never its content
	for _, p := range a.peerList() {
		if !p.readOnly {
			p.setControl(slotClipboard, msg)
		}
	}
}

// peerList returns the current peers.
func (a *Agent) peerList() []*peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps := make([]*peer, 0, len(a.peers))
	for _, p := range a.peers {
		ps = append(ps, p)
	}
	return ps
}

func (a *Agent) peer(id string) *peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.peers[id]
}

// closePeers ends every peer, and waits for the peers being closed: they renegotiate once the
// agent is back.
func (a *Agent) closePeers() {
	a.mu.Lock()
	ps := a.peers
	a.peers = make(map[string]*peer)
	a.updateRecordersLocked()
	a.mu.Unlock()
	for _, p := range ps {
		p.close()
	}
	a.closing.Wait()
}

// closeLater closes p off the caller's goroutine (the read loop must not wait for a peer
// connection to close); closePeers waits for it.
func (a *Agent) closeLater(p *peer) {
	a.closing.Add(1)
	go func() {
		defer a.closing.Done()
		p.close()
	}()
}
