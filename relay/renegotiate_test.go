package relay

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/relay/demo"
	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

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

// TestDeadDisplayStreamRenegotiates: when the display channel to a peer fails (the peer closed
// it), its stream ends and leaves the pipeline, the agent drops the peer connection and asks
// the peer for a new one, which starts with a full frame. The source rests while no stream is
// open.
func TestDeadDisplayStreamRenegotiates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	desk := &demandSource{Desktop: stillDesktop(t), told: make(chan bool, 8)}
	a, f, tp := startFakeSessionOn(ctx, t, desk)
	desk.expect(ctx, t, false) // resting from the start
	desk.expect(ctx, t, true)  // the peer's display stream opened
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
	desk.expect(ctx, t, false) // the only viewer's stream ended: the source rests
	if n := a.Pipeline().Stats().Peers; n != 0 {
		t.Fatalf("%d display streams after the failure, want 0", n)
	}
	tp2 := newTestPC(t, f)
	tp2.negotiate(ctx, t, f, false)
	waitSignal(ctx, t, tp2.welcomes, "welcome on the new peer connection")
	waitSignal(ctx, t, tp2.frames, "a full frame on the new peer connection")
	desk.expect(ctx, t, true)
}

// demandSource is a demo desktop that reports what the agent tells it of its demand.
type demandSource struct {
	*demo.Desktop
	told chan bool
}

func (d *demandSource) SetDemand(watched bool) {
	d.told <- watched
	d.Desktop.SetDemand(watched)
}

// expect waits for the agent to tell the source want.
func (d *demandSource) expect(ctx context.Context, t *testing.T, want bool) {
	t.Helper()
	select {
	case got := <-d.told:
		if got != want {
			t.Fatalf("SetDemand(%v), want SetDemand(%v)", got, want)
		}
	case <-ctx.Done():
		t.Fatalf("SetDemand(%v) was not called", want)
	}
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
