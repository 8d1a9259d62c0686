package relay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/internal/rtcconf"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// The fake signaling server and test peer connection the agent tests run against.

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

// startTestAgent runs an agent on a still demo desktop against f until the test ends;
// lan allows local candidates.
func startTestAgent(ctx context.Context, t *testing.T, f *fakeServer, lan bool) *Agent {
	t.Helper()
	return startTestAgentOn(ctx, t, f, stillDesktop(t), lan)
}

// stillDesktop returns a small demo desktop that changes only on input.
func stillDesktop(t *testing.T) *demo.Desktop {
	t.Helper()
	desk, err := demo.New(demo.Config{Width: 160, Height: 120, Still: true})
	if err != nil {
		t.Fatal(err)
	}
	return desk
}

// startTestAgentOn is startTestAgent with the agent's source.
func startTestAgentOn(ctx context.Context, t *testing.T, f *fakeServer, desk Source, lan bool) *Agent {
	t.Helper()
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
	return startFakeSessionOn(ctx, t, stillDesktop(t))
}

// startFakeSessionOn is startFakeSession with the agent's source.
func startFakeSessionOn(ctx context.Context, t *testing.T, desk Source) (*Agent, *fakeServer, *testPC) {
	t.Helper()
	f := newFakeServer(t)
	a := startTestAgentOn(ctx, t, f, desk, true)
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
