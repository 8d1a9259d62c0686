package main

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/signaling/turn"
)

// The direct-versus-relayed benchmarks of docs/BENCHMARKS.md. Both paths run against the same
// setup, a harness with the embedded TURN server on loopback (allow-listed): the direct peer may
// use every candidate, the relayed one only TURN relay candidates, so that every byte it gets
// crosses the TURN server. Run them with -benchtime 1x, like bench_test.go's.

// benchPath is one way for a peer to reach the agent.
type benchPath struct {
	name string
	opts []client.Option
}

// benchPaths returns the direct and the relayed path. The relayed peer accepts a relay pair
// after 50 ms instead of pion's 2 s wait for a better one, which would otherwise dominate its
// join time (a browser's ICE agent has no such wait).
func benchPaths() []benchPath {
	se := *loopbackEngine()
	se.SetRelayAcceptanceMinWait(50 * time.Millisecond)
	return []benchPath{
		{name: "direct"},
		{name: "relayed", opts: []client.Option{client.WithSettingEngine(se), client.WithRelayOnly()}},
	}
}

// checkPath fails the benchmark unless s's selected candidate pair is of the kind p promises:
// a local relay candidate for the relayed path, none on either side for the direct one.
func checkPath(b *testing.B, p benchPath, s *client.Session) {
	b.Helper()
	pair := s.SelectedCandidatePair()
	if pair == nil {
		b.Fatal("no selected candidate pair")
	}
	relayed := pair.Local.Typ == webrtc.ICECandidateTypeRelay
	direct := !relayed && pair.Remote.Typ != webrtc.ICECandidateTypeRelay
	if (p.name == "relayed") != relayed || (p.name == "direct") != direct {
		b.Fatalf("%s path selected the pair %s", p.name, pair)
	}
}

// BenchmarkTURNJoinFirstFrame: from Join to the first full frame of a 1920x1080 demo desktop,
// direct and relayed (login excluded).
func BenchmarkTURNJoinFirstFrame(b *testing.B) {
	for _, p := range benchPaths() {
		b.Run(p.name, func(b *testing.B) {
			h := newHarness(b, harnessConfig{demo: demo.Config{Width: benchW, Height: benchH}, turn: loopbackTURN})
			ds := measureJoins(b, h, p.opts, func(s *client.Session) { checkPath(b, p, s) })
			b.ReportMetric(ms(percentile(ds, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(ds, 95)), "p95-ms")
		})
	}
}

// BenchmarkTURNInputToPixel: as BenchmarkInputToPixel, direct and relayed: a press at a point
// of a still 1920x1080 demo desktop until the peer's own framebuffer shows the painted dot.
func BenchmarkTURNInputToPixel(b *testing.B) {
	for _, p := range benchPaths() {
		b.Run(p.name, func(b *testing.B) {
			h := newHarness(b, harnessConfig{demo: demo.Config{Width: benchW, Height: benchH, Still: true}, turn: loopbackTURN})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			s := h.join(ctx, p.opts...)
			checkPath(b, p, s)
			ds := measureInputToPixel(ctx, b, s)
			b.ReportMetric(ms(percentile(ds, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(ds, 99)), "p99-ms")
		})
	}
}

// BenchmarkTURNFanout: 8 peers of busyDesktop, direct and relayed. Each relayed peer is one
// TURN identity, held to the server's per-peer bandwidth quota (8 MiB/s).
func BenchmarkTURNFanout(b *testing.B) {
	const n = 8
	for _, p := range benchPaths() {
		b.Run(p.name, func(b *testing.B) {
			for range b.N {
				r := peerdeskFanout(b, harnessConfig{demo: busyDesktop, turn: loopbackTURN}, n, fanoutWindow,
					func(s *client.Session) { checkPath(b, p, s) }, p.opts...)
				b.ReportMetric(r.bytesPerPeer/(1<<20), "MiB/s/peer")
				b.ReportMetric(r.updatesPerPeer, "updates/s/peer")
				b.ReportMetric(r.cpu, "cpu")
			}
		})
	}
}

var (
	uclientLossRE = regexp.MustCompile(`Total lost packets (\d+) \(([\d.]+)%\)`)
	uclientRTTRE  = regexp.MustCompile(`Average round trip delay ([\d.]+) ms`)
	uclientJitRE  = regexp.MustCompile(`Average jitter ([\d.]+) ms`)
)

// BenchmarkTURNUclient: coturn's turnutils_uclient with 50 clients (-m 50, one allocation each:
// -c, no RTCP) relaying 50 messages of 200 bytes each, every 20 ms, through the embedded server
// to a turnutils_peer echo on loopback: the packets lost, the average round trip and jitter.
// The credential is an agent's, whose quota (128 allocations) holds the 50; a peer's holds 10.
func BenchmarkTURNUclient(b *testing.B) {
	uclient, err := exec.LookPath("turnutils_uclient")
	if err != nil {
		b.Skip("turnutils_uclient not installed (Debian package coturn)")
	}
	echo, err := exec.LookPath("turnutils_peer")
	if err != nil {
		b.Skip("turnutils_peer not installed (Debian package coturn)")
	}
	h := newHarness(b, harnessConfig{demo: demo.Config{Still: true}, turn: loopbackTURN})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	secret, err := turnSecret(ctx, h.st, "")
	if err != nil {
		b.Fatal(err)
	}
	creds, err := turn.NewCredentials(secret, turn.DefaultTTL, h.srv.turn.URLs(), nil)
	if err != nil {
		b.Fatal(err)
	}
	ice, _ := creds.ICEServers(turn.AgentIdentityPrefix + "uclient")

	// turnutils_peer cannot report an ephemeral port: take one that was free a moment ago.
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	echoPort := strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
	_ = c.Close()
	peer := exec.CommandContext(ctx, echo, "-L", "127.0.0.1", "-p", echoPort)
	if err := peer.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = peer.Process.Kill()
		_ = peer.Wait()
	}()
	_, turnPort, _ := net.SplitHostPort(h.srv.turn.UDPAddr().String())

	for range b.N {
		out, err := exec.CommandContext(ctx, uclient, "-u", ice[0].Username, "-w", ice[0].Credential,
			"-e", "127.0.0.1", "-r", echoPort, "-p", turnPort, "-m", "50", "-n", "50", "-l", "200", "-c", "-X", "127.0.0.1").CombinedOutput()
		if err != nil {
			b.Fatalf("turnutils_uclient: %v\n%s", err, out)
		}
		loss, rtt, jitter := uclientLossRE.FindSubmatch(out), uclientRTTRE.FindSubmatch(out), uclientJitRE.FindSubmatch(out)
		if loss == nil || rtt == nil || jitter == nil {
			b.Fatalf("no loss, round-trip or jitter figure in the output:\n%s", out)
		}
		b.ReportMetric(mustFloat(b, loss[1]), "lost-packets")
		b.ReportMetric(mustFloat(b, loss[2]), "lost-%")
		b.ReportMetric(mustFloat(b, rtt[1]), "rtt-ms") // uclient counts whole milliseconds
		b.ReportMetric(mustFloat(b, jitter[1]), "jitter-ms")
	}
}

// mustFloat parses a figure the regular expressions above matched.
func mustFloat(b *testing.B, s []byte) float64 {
	b.Helper()
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		b.Fatalf("figure %q: %v", s, err)
	}
	return f
}
