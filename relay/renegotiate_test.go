package relay

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/internal/rtcconf"
	"peerdesk/relay/demo"
	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

const testPeer = "p1"

// loopbackSettings keeps ICE on loopback.
func loopbackSettings() *webrtc.SettingEngine { return rtcconf.Loopback() }

// fakeServer plays the signaling server for one agent: hello, a join of testPeer, then it
// passes the test's offers and candidates to the agent and the agent's answers and
// candidates back.
type fakeServer struct {
	t       *testing.T
	srv     *httptest.Server
	conn    chan *websocket.Conn
	answers chan string
	errs    chan proto.Message // the agent's errors about testPeer
	ws      *websocket.Conn
	wmu     sync.Mutex

	mu sync.Mutex
	pc *webrtc.PeerConnection // the test's current peer connection, gets the agent's candidates
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, conn: make(chan *websocket.Conn, 1), answers: make(chan string, 4), errs: make(chan proto.Message, 64)}
	up := websocket.Upgrader{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		f.conn <- c
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// serve takes the agent's connection, welcomes it, announces testPeer and reads its frames
// until the connection closes.
func (f *fakeServer) serve(ctx context.Context) {
	select {
	case f.ws = <-f.conn:
	case <-ctx.Done():
		f.t.Fatal("the agent never connected")
	}
	f.t.Cleanup(func() { _ = f.ws.Close() })
	f.send(proto.Message{Type: proto.TypeHello, Connection: &proto.Connection{ID: 1, Name: "test"}})
	f.send(proto.Message{Type: proto.TypeJoin, Peer: testPeer, Identity: &proto.Identity{Name: "alice", Role: proto.RoleOwner}})
	go func() {
		for {
			_, b, err := f.ws.ReadMessage()
			if err != nil {
				return
			}
			m, err := proto.Decode(b)
			if err != nil {
				continue
			}
			switch m.Type {
			case proto.TypeAnswer:
				f.answers <- m.SDP
			case proto.TypeError:
				select {
				case f.errs <- m:
				default:
				}
			case proto.TypeCandidate:
				f.mu.Lock()
				pc := f.pc
				f.mu.Unlock()
				c := m.Candidate
				if pc != nil && c.Candidate != "" {
					_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
				}
			}
		}
	}()
}

func (f *fakeServer) send(m proto.Message) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if err := f.ws.WriteMessage(websocket.TextMessage, m.Encode()); err != nil {
		f.t.Errorf("to the agent: %v", err)
	}
}

// testPC is the test's side of one peer connection with the three channels.
type testPC struct {
	pc                      *webrtc.PeerConnection
	control, display, input *webrtc.DataChannel
	welcomes, frames        chan struct{}
}

func newTestPC(t *testing.T, f *fakeServer) *testPC {
	api := webrtc.NewAPI(webrtc.WithSettingEngine(*loopbackSettings()))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	tp := &testPC{pc: pc, welcomes: make(chan struct{}, 16), frames: make(chan struct{}, 1024)}
	yes := true
	for i, label := range []string{wire.ControlLabel, wire.DisplayLabel, wire.InputLabel} {
		id := uint16(i)
		dc, err := pc.CreateDataChannel(label, &webrtc.DataChannelInit{Negotiated: &yes, ID: &id, Ordered: &yes})
		if err != nil {
			t.Fatal(err)
		}
		switch id {
		case wire.ControlID:
			tp.control = dc
		case wire.DisplayID:
			tp.display = dc
		default:
			tp.input = dc
		}
	}
	tp.control.OnMessage(func(m webrtc.DataChannelMessage) {
		if c, err := wire.DecodeControl(m.Data); err == nil && c.Type == wire.ControlWelcome {
			tp.welcomes <- struct{}{}
		}
	})
	tp.display.OnMessage(func(m webrtc.DataChannelMessage) {
		if len(m.Data) > 0 && m.Data[0] == wire.MsgFrame {
			select {
			case tp.frames <- struct{}{}:
			default:
			}
		}
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			f.send(proto.Message{Type: proto.TypeCandidate, Peer: testPeer, Candidate: toProtoCandidate(c.ToJSON())})
		}
	})
	f.mu.Lock()
	f.pc = pc
	f.mu.Unlock()
	return tp
}

// negotiate offers (an ICE restart if restart) and applies the agent's answer.
func (tp *testPC) negotiate(ctx context.Context, t *testing.T, f *fakeServer, restart bool) {
	t.Helper()
	offer, err := tp.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	f.send(proto.Message{Type: proto.TypeOffer, Peer: testPeer, SDP: offer.SDP})
	select {
	case sdp := <-f.answers:
		if err := tp.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("no answer from the agent")
	}
}

func waitSignal(ctx context.Context, t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
	}
}

// drain empties ch.
func drain(ch chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestRenegotiateICERestart: an ICE-restart offer from the peer's same RTCPeerConnection is
// answered on the agent's existing peer connection: the same data channels, display stream
// and presence go on (no second welcome, input still applies, frames still flow), and the
// ICE credentials changed. An offer from a new RTCPeerConnection still replaces the agent's.
func TestRenegotiateICERestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, f, tp := startFakeSession(ctx, t)
	p := a.peer(testPeer)
	var pc *webrtc.PeerConnection
	var stream *pipeline.PeerStream
	p.call(func() { pc, stream = p.pc, p.stream })
	if pc == nil || stream == nil {
		t.Fatal("the agent has no peer connection or display stream")
	}
	ufrag := func() string {
		pair, err := tp.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
		if err != nil || pair == nil {
			return ""
		}
		rp, _ := tp.pc.SCTP().Transport().ICETransport().GetRemoteParameters()
		return rp.UsernameFragment
	}
	before := ufrag()

	connected := make(chan struct{}, 4)
	tp.pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateConnected {
			connected <- struct{}{}
		}
	})
	tp.negotiate(ctx, t, f, true)
	waitSignal(ctx, t, connected, "ICE connected after the restart")
	if after := ufrag(); after == before || after == "" {
		t.Fatalf("the agent's ICE username fragment %q after the restart, %q before: no ICE restart", after, before)
	}
	var samePC, sameStream bool
	p.call(func() { samePC, sameStream = p.pc == pc, p.stream == stream })
	if !samePC || !sameStream {
		t.Fatalf("after the restart: same peer connection %v, same display stream %v; want both", samePC, sameStream)
	}
	if n := a.Pipeline().Stats().Peers; n != 1 {
		t.Fatalf("%d display streams after the restart, want 1", n)
	}
	if !a.presence.present(testPeer, pc) {
		t.Fatal("the peer is not present after the restart")
	}

	// The same channels carry input and frames on.
	drain(tp.frames)
	applied := a.Stats().InputApplied
	for _, b := range [][]byte{wire.EncodePointer(40, 40, wire.ButtonLeft), wire.EncodePointer(40, 40, 0)} {
		if err := tp.input.Send(b); err != nil {
			t.Fatal(err)
		}
	}
	waitSignal(ctx, t, tp.frames, "a frame after input on the restarted connection")
	if got := a.Stats().InputApplied; got < applied+2 {
		t.Fatalf("input applied %d, want %d", got, applied+2)
	}
	select {
	case <-tp.welcomes:
		t.Fatal("a second welcome: the control channel was reopened")
	default:
	}

	// A new RTCPeerConnection (as after host-available) replaces the agent's.
	tp2 := newTestPC(t, f)
	tp2.negotiate(ctx, t, f, false)
	waitSignal(ctx, t, tp2.welcomes, "welcome on the new peer connection")
	var replaced bool
	p.call(func() { replaced = p.pc != pc })
	if !replaced {
		t.Fatal("an offer from a new peer connection did not replace the agent's")
	}
}

// TestReofferBurst: a peer that re-offers on its connection again and again, sending the next
// offer before the agent's answer to the last arrives (as a peer restarting ICE after path
// losses may), is answered every time on the same connection, which then carries the desktop.
// Under -race this catches the agent touching pion's own session descriptions while pion's
// operations goroutine reads them after each answer.
func TestReofferBurst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, f, tp := startFakeSession(ctx, t)
	p := a.peer(testPeer)
	var pc *webrtc.PeerConnection
	p.call(func() { pc = p.pc })

	const reoffers = 40
	offer, err := tp.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	for range reoffers {
		f.send(proto.Message{Type: proto.TypeOffer, Peer: testPeer, SDP: offer.SDP})
	}
	var answer string
	for i := range reoffers {
		select {
		case answer = <-f.answers:
		case <-ctx.Done():
			t.Fatalf("%d answers to %d re-offers", i, reoffers)
		}
	}
	if err := tp.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	var samePC bool
	p.call(func() { samePC = p.pc == pc })
	if !samePC {
		t.Fatal("a re-offer replaced the agent's peer connection")
	}
	drain(tp.frames)
	if err := tp.input.Send(wire.EncodePointer(40, 40, wire.ButtonLeft)); err != nil {
		t.Fatal(err)
	}
	waitSignal(ctx, t, tp.frames, "a frame after the re-offers")
	if n := a.Pipeline().Stats().Peers; n != 1 {
		t.Fatalf("%d display streams after %d re-offers, want 1", n, reoffers)
	}
}

// TestCheckCandidate: the agent refuses to probe loopback, link-local, multicast, unspecified
// addresses and host names (mDNS .local names aside) unless AllowLocalCandidates; public and
// private LAN addresses pass.
func TestCheckCandidate(t *testing.T) {
	strict := &Agent{}
	lan := &Agent{cfg: AgentConfig{AllowLocalCandidates: true}}
	cand := func(addr string) string {
		return "candidate:1 1 udp 2130706431 " + addr + " 50000 typ host"
	}
	for _, c := range []struct {
		addr        string
		strict, lan bool // accepted
	}{
		{"203.0.113.7", true, true},
		{"192.168.1.20", true, true},
		{"10.1.2.3", true, true},
		{"2001:db8::1", true, true},
		{"127.0.0.1", false, true},
		{"::1", false, true},
		{"169.254.169.254", false, true},
		{"fe80::1", false, true},
		{"224.0.0.251", false, true},
		{"0.0.0.0", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"3c6e1f0a-1b2c-4d5e-8f90-123456789abc.local", true, true},
		{"metadata.internal", false, false},
	} {
		if err := strict.checkCandidate(cand(c.addr)); (err == nil) != c.strict {
			t.Errorf("%s: strict agent: %v, want accepted %v", c.addr, err, c.strict)
		}
		if err := lan.checkCandidate(cand(c.addr)); (err == nil) != c.lan {
			t.Errorf("%s: agent allowing local candidates: %v, want accepted %v", c.addr, err, c.lan)
		}
	}
	if err := strict.checkCandidate("candidate:garbage"); err == nil {
		t.Error("a malformed candidate was accepted")
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			if err := strict.checkCandidate(cand(n.IP.String())); err == nil {
				t.Errorf("the host's own address %v was accepted", n.IP)
			}
			break
		}
	}
}

// startTestAgent runs an agent on a still demo desktop against f until the test ends;
// lan allows local candidates.
func startTestAgent(ctx context.Context, t *testing.T, f *fakeServer, lan bool) *Agent {
	t.Helper()
	desk, err := demo.New(demo.Config{Width: 160, Height: 120, Still: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAgent(AgentConfig{ServerURL: f.srv.URL, Token: "t", Source: desk, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
		SettingEngine: loopbackSettings(), AllowLocalCandidates: lan})
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	t.Cleanup(func() {
		acancel()
		<-done
	})
	return a
}

// startFakeSession runs an agent on a still demo desktop against a fake server and connects
// testPeer with a test peer connection that got its welcome and first frame.
func startFakeSession(ctx context.Context, t *testing.T) (*Agent, *fakeServer, *testPC) {
	t.Helper()
	f := newFakeServer(t)
	a := startTestAgent(ctx, t, f, true)
	f.serve(ctx)
	tp := newTestPC(t, f)
	tp.negotiate(ctx, t, f, false)
	waitSignal(ctx, t, tp.welcomes, "welcome")
	waitSignal(ctx, t, tp.frames, "a first frame")
	return a, f, tp
}

// waitError waits for the agent's error about testPeer with code.
func (f *fakeServer) waitError(ctx context.Context, t *testing.T, code string) proto.Message {
	t.Helper()
	for {
		select {
		case m := <-f.errs:
			if m.Code == code {
				return m
			}
		case <-ctx.Done():
			t.Fatalf("no %s error from the agent", code)
		}
	}
}

// TestDeadDisplayStreamRenegotiates: when the display channel to a peer fails (the peer closed
// it), its stream ends and leaves the pipeline, the agent drops the peer connection and asks
// the peer for a new one, which starts with a full frame.
func TestDeadDisplayStreamRenegotiates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, f, tp := startFakeSession(ctx, t)
	if err := tp.display.Close(); err != nil {
		t.Fatal(err)
	}
	// The still desktop changes only on input: clicks make the stream send, and fail once the
	// channel's close reached the agent.
	clicks, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for i := 0; clicks.Err() == nil; i++ {
			_ = tp.input.Send(wire.EncodePointer(10+i%100, 10+i/100%100, wire.ButtonLeft))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	m := f.waitError(ctx, t, proto.CodeRenegotiate)
	stop()
	t.Logf("the agent said: %s", m.Message)
	if n := a.Pipeline().Stats().Peers; n != 0 {
		t.Fatalf("%d display streams after the failure, want 0", n)
	}
	tp2 := newTestPC(t, f)
	tp2.negotiate(ctx, t, f, false)
	waitSignal(ctx, t, tp2.welcomes, "welcome on the new peer connection")
	waitSignal(ctx, t, tp2.frames, "a full frame on the new peer connection")
}

// TestCandidateCap: a peer may trickle at most maxCandidates remote candidates per offer; the
// rest are refused, with one error, and counted.
func TestCandidateCap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	a, f, _ := startFakeSession(ctx, t)
	before := a.Stats().CandidatesRefused
	for i := range maxCandidates + 10 {
		f.send(proto.Message{Type: proto.TypeCandidate, Peer: testPeer, Candidate: &proto.Candidate{
			Candidate: fmt.Sprintf("candidate:%d 1 udp 2130706431 192.0.2.%d 9 typ host", i, i+1),
		}})
	}
	f.waitError(ctx, t, proto.CodeBadMessage)
	deadline := time.After(waitTimeout)
	for a.Stats().CandidatesRefused-before < 10 {
		select {
		case <-deadline:
			t.Fatalf("%d candidates refused, want 10 beyond the cap", a.Stats().CandidatesRefused-before)
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case m := <-f.errs:
		t.Fatalf("a second error for the candidates over the cap: %+v", m)
	case <-time.After(100 * time.Millisecond):
	}
}
