package relay

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/signaling/proto"
)

// candidateScene is an agent (strict about candidates unless lan) behind a fake signaling
// server that announced testPeer, and a UDP socket on loopback counting what reaches it.
type candidateScene struct {
	a        *Agent
	f        *fakeServer
	port     int
	received atomic.Int64
}

func newCandidateScene(ctx context.Context, t *testing.T, lan bool) *candidateScene {
	t.Helper()
	sc := &candidateScene{f: newFakeServer(t)}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = udp.Close() })
	sc.port = udp.LocalAddr().(*net.UDPAddr).Port
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
			sc.received.Add(1)
		}
	}()
	sc.a = startTestAgent(ctx, t, sc.f, lan)
	sc.f.serve(ctx)
	return sc
}

// offer sends testPeer's offer, gathered in full, with extra candidate lines appended to its
// one media section, and waits for the answer.
func (sc *candidateScene) offer(ctx context.Context, t *testing.T, extra ...string) {
	t.Helper()
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(*loopbackSettings())).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.CreateDataChannel("control", nil); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	sdp := pc.LocalDescription().SDP
	for _, c := range extra {
		sdp += "a=" + c + "\r\n"
	}
	sc.f.send(proto.Message{Type: proto.TypeOffer, Peer: testPeer, SDP: sdp})
	select {
	case <-sc.f.answers:
	case <-ctx.Done():
		t.Fatal("no answer")
	}
}

// TestOfferCandidatesScreened: the candidates an offer carries get the checks trickled ones
// get. A strict agent sends nothing to a loopback address a peer names, in its offer or
// trickled, and says so; an agent allowing local candidates does probe it (the control that
// shows the socket would have seen the probes); and an offer's candidates count towards the
// cap of one offer.
func TestOfferCandidatesScreened(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	target := func(port int) string {
		return fmt.Sprintf("candidate:9 1 udp 2130706431 127.0.0.1 %d typ host", port)
	}

	lan := newCandidateScene(ctx, t, true)
	lan.offer(ctx, t, target(lan.port))
	for lan.received.Load() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the agent allowing local candidates never probed the candidate: the socket sees nothing")
		case <-time.After(10 * time.Millisecond):
		}
	}

	strict := newCandidateScene(ctx, t, false)
	strict.offer(ctx, t, target(strict.port))
	if m := strict.f.waitError(ctx, t, proto.CodeBadMessage); !strings.Contains(m.Message, "candidates of the offer refused") {
		t.Errorf("error %q, want candidates of the offer refused", m.Message)
	}
	strict.f.send(proto.Message{Type: proto.TypeCandidate, Peer: testPeer, Candidate: &proto.Candidate{Candidate: target(strict.port)}})
	if m := strict.f.waitError(ctx, t, proto.CodeBadMessage); !strings.Contains(m.Message, "candidate refused") {
		t.Errorf("error %q, want candidate refused", m.Message)
	}
	time.Sleep(1500 * time.Millisecond) // what must not happen: probes within several ICE check intervals
	if n := strict.received.Load(); n != 0 {
		t.Errorf("the strict agent sent %d packets to a loopback address the peer named", n)
	}
	if n := strict.a.Stats().CandidatesRefused; n < 2 {
		t.Errorf("%d candidates refused, want 2", n)
	}

	capped := newCandidateScene(ctx, t, true)
	var many []string
	for i := range maxCandidates + 8 {
		many = append(many, fmt.Sprintf("candidate:%d 1 udp 2130706431 192.0.2.%d 9 typ host", 100+i, i+1))
	}
	capped.offer(ctx, t, many...)
	capped.f.waitError(ctx, t, proto.CodeBadMessage)
	if n := capped.a.Stats().CandidatesRefused; n < 8 {
		t.Errorf("%d of an offer's %d candidates refused, want ≥ 8 beyond the cap of %d", n, len(many)+1, maxCandidates)
	}
}
