//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/client"
	"peerdesk/internal/testproc"
	"peerdesk/relay"
	"peerdesk/relay/pipeline"
	"peerdesk/relay/vnc"
)

// The thin-link benchmark of docs/BENCHMARKS.md: a 1920x1080 Xtigervnc playing a 720p video
// (ffplay's testsrc2 at 25 frames a second) or scrolling an xterm, served by peerdesk (server
// and agent in this process) and, when PEERDESK_GUACD names a guacd binary, by Apache
// Guacamole's guacd too, to a viewer in a network namespace of its own behind a veth whose
// host → viewer direction is shaped with tbf, as in TestThinLink. The viewer measures draw →
// pixel (xsetroot changes the root window's colour where the workload leaves it visible; the
// time until a decoding Go peer shows the colour at five points) and FRAMEs a second; for guacd,
// the syncs a second and how old each sync is when it arrives (guacd's own measure of lag). The
// two are measured one after the other, each alone on the link.

const (
	thinGuacdEnv     = "PEERDESK_GUACD" // path of a guacd binary, for the side-by-side figures
	thinWorkloadEnv  = "PEERDESK_THIN_WORKLOAD"
	thinRateEnv      = "PEERDESK_THIN_RATE"    // tc's notation, or "unshaped"
	thinPNGOnlyEnv   = "PEERDESK_THIN_PNGONLY" // set: no WebP for the limited viewer (pipeline.Config.PNGOnly)
	thinNoVideoEnv   = "PEERDESK_THIN_NOVIDEO" // set: the viewer takes tiles only (client.WithoutVideo)
	thinBenchDraws   = 30
	thinBenchWindow  = 10 * time.Second
	thinBenchSettle  = 3 * time.Second
	thinMetricPrefix = "metric "
	guacdPort        = "4822"
)

// BenchmarkThinLink: for each workload and link rate, draw → pixel p50/p90 and updates a
// second of a peerdesk viewer, and guacd's syncs a second and sync delay when PEERDESK_GUACD
// is set. It needs root (network namespaces), Xtigervnc, xterm, xsetroot and ffplay.
func BenchmarkThinLink(b *testing.B) {
	testproc.NeedBins(b, "Xtigervnc", "xsetroot", "xterm", "ffplay", "tc")
	guacd := os.Getenv(thinGuacdEnv)
	for _, work := range []string{"video", "scroll"} {
		for _, rate := range []string{"unshaped", "20mbit", "10mbit", "5mbit", "2mbit"} {
			b.Run(work+"/"+rate, func(b *testing.B) {
				out := runPrivateNetNS(b, "thin-bench", 3*time.Minute,
					thinWorkloadEnv+"="+work, thinRateEnv+"="+rate, thinGuacdEnv+"="+guacd, thinPNGOnlyEnv+"="+os.Getenv(thinPNGOnlyEnv), thinNoVideoEnv+"="+os.Getenv(thinNoVideoEnv))
				for _, line := range strings.Split(out, "\n") {
					_, m, ok := strings.Cut(line, netnsPrefix+thinMetricPrefix)
					if !ok {
						continue
					}
					var name string
					var v float64
					if _, err := fmt.Sscanf(m, "%s %g", &name, &v); err == nil {
						b.ReportMetric(v, name)
					}
				}
			})
		}
	}
}

// thinBenchOrchestrate runs one workload at one rate: the desktop, peerdesk and guacd here,
// the viewer in its namespace.
func thinBenchOrchestrate(t *testing.T) {
	enterPrivateNetNS(t)
	thinTopology(t)
	d := startTigerVNC(t, benchW, benchH)
	points := thinWorkload(t, d, os.Getenv(thinWorkloadEnv))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := testLogger(t, false)
	f := serverFlags{listen: net.JoinHostPort(netnsPeerGW, "0"), dbFlags: dbFlags{data: t.TempDir()}, adminUser: testAdmin}
	st, srv, token, c := startTestServer(ctx, t, &f, log)
	defer st.Close()
	defer func() {
		if err := srv.close(); err != nil {
			t.Errorf("server close: %v", err)
		}
	}()
	agentDone := thinVNCAgent(ctx, t, srv.url, token, d.addr(), log)

	if rate := os.Getenv(thinRateEnv); rate != "unshaped" {
		thinShape(t, "add", rate)
	}
	peer := startNetNSChild(t, netnsPeerNS, "thin-bench-peer", "DISPLAY="+d.display)
	defer peer.stop()
	pts := make([]string, len(points))
	for i, p := range points {
		pts[i] = fmt.Sprintf("%d,%d", p.X, p.Y)
	}
	fmt.Fprintf(peer.stdin, "peerdesk %s %d %s\n", srv.url, c.ID, strings.Join(pts, ";"))
	thinRelay(t, peer)
	agentDone() // guacd gets the VNC server to itself
	if guacd := os.Getenv(thinGuacdEnv); guacd != "" {
		g := testproc.Start(t, nil, guacd, "-f", "-b", netnsPeerGW, "-l", guacdPort, "-L", "error")
		defer testproc.Stop(g)
		addr := net.JoinHostPort(netnsPeerGW, guacdPort)
		waitListening(t, addr)
		fmt.Fprintf(peer.stdin, "guacd %s %d\n", addr, d.port)
		thinRelay(t, peer)
	}
}

// waitListening waits until something accepts TCP connections at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(netnsChildWait)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens at %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// thinRelay passes the peer's metric lines on until it says done.
func thinRelay(t *testing.T, peer *netnsChild) {
	t.Helper()
	for {
		line := peer.expect(thinBenchWindow + thinBenchSettle + 2*time.Minute)
		if line == "done" {
			return
		}
		if !strings.HasPrefix(line, thinMetricPrefix) {
			t.Fatalf("viewer: %s", line)
		}
		netnsSay("%s", line)
	}
}

// thinTopology makes the viewer's namespace and links it to this one: the server side is
// netnsPeerGW on to-peer, the viewer netnsPeerIP on its eth0.
func thinTopology(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"netns", "add", netnsPeerNS},
		{"link", "add", "to-peer", "type", "veth", "peer", "name", "eth0", "netns", netnsPeerNS},
		{"addr", "add", netnsPeerGW + "/24", "dev", "to-peer"},
		{"link", "set", "to-peer", "up"},
		{"-n", netnsPeerNS, "addr", "add", netnsPeerIP + "/24", "dev", "eth0"},
		{"-n", netnsPeerNS, "link", "set", "eth0", "up"},
		{"-n", netnsPeerNS, "link", "set", "lo", "up"},
	} {
		netnsIP(t, args...)
	}
}

// thinWorkload starts the named workload on d and returns the points where the root window
// stays visible.
func thinWorkload(t testing.TB, d *tigerVNC, work string) []image.Point {
	t.Helper()
	switch work {
	case "video":
		playVideo(t, d)
		return []image.Point{{100, 100}, {benchW - 100, 100}, {benchW / 2, 90}, {100, benchH - 100}, {benchW - 100, benchH - 100}}
	case "scroll":
		c := d.xterm("330x60+0+0", scrollCommand) // 1980x780 pixels of text at the top
		t.Cleanup(func() { testproc.Stop(c) })
		return []image.Point{{100, benchH - 100}, {benchW / 2, benchH - 100}, {benchW - 100, benchH - 100}, {500, benchH - 200}, {1400, benchH - 200}}
	}
	t.Fatalf("unknown workload %q", work)
	return nil
}

// videoRect is where playVideo's video shows on the 1920x1080 desktop.
var videoRect = image.Rect(320, 180, 1600, 900)

// playVideo plays ffplay's testsrc2, 1280x720 at 25 frames a second, in videoRect of d until
// the test ends, and returns the player's process.
func playVideo(t testing.TB, d *tigerVNC) *exec.Cmd {
	t.Helper()
	c := testproc.Start(t, nil, "env", "DISPLAY="+d.display, "SDL_VIDEODRIVER=x11", "ffplay", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-an", "-noborder", "-left", "320", "-top", "180")
	t.Cleanup(func() { testproc.Stop(c) })
	d.x("", "xdotool", "search", "--sync", "--onlyvisible", "--class", "ffplay")
	return c
}

// thinVNCAgent runs an agent serving the VNC server at addr to peers on to-peer only, and
// returns what stops it.
func thinVNCAgent(ctx context.Context, t *testing.T, url, token, addr string, log zerolog.Logger) (stop func()) {
	t.Helper()
	src, err := vnc.New(vnc.Config{Addr: addr, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	se := thinEngine()
	se.SetInterfaceFilter(func(name string) bool { return name == "to-peer" })
	pcfg := pipeline.Config{PNGOnly: os.Getenv(thinPNGOnlyEnv) != ""}
	a, err := relay.NewAgent(relay.AgentConfig{ServerURL: url, Token: token, Source: src, Logger: log, SettingEngine: se, Pipeline: pcfg})
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	wctx, wcancel := context.WithTimeout(ctx, netnsChildWait)
	defer wcancel()
	if err := a.WaitOnline(wctx); err != nil {
		t.Fatalf("agent never came online: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// thinBenchPeer is the viewer: "peerdesk URL CONNECTION X,Y;…" measures a peerdesk session,
// "guacd ADDR VNCPORT" a guacd one, each answered with metric lines and done.
func thinBenchPeer(t *testing.T) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var err error
		switch {
		case len(f) == 4 && f[0] == "peerdesk":
			err = thinMeasurePeerdesk(t, f[1], f[2], f[3])
		case len(f) == 3 && f[0] == "guacd":
			err = thinMeasureGuacd(t, f[1], f[2])
		default:
			err = fmt.Errorf("bad command %q", sc.Text())
		}
		if err != nil {
			netnsSay("failed: %v", err)
			return
		}
		netnsSay("done")
	}
}

// thinDraws changes the root window's colour thinBenchDraws times, 250 ms apart at least,
// calling seen after each change to wait until the viewer shows colour c; it returns the
// delays seen measured (none when seen is nil).
func thinDraws(ctx context.Context, seen func(ctx context.Context, c [3]byte) error) ([]time.Duration, error) {
	colours := [][3]byte{{0x33, 0x66, 0xcc}, {0xcc, 0x66, 0x33}}
	var ds []time.Duration
	for i := range thinBenchDraws {
		c := colours[i%2]
		if out, err := exec.CommandContext(ctx, "xsetroot", "-solid", fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("xsetroot: %v: %s", err, out)
		}
		start := time.Now()
		if seen != nil {
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := seen(wctx, c)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("colour %x: %w", c, err)
			}
			ds = append(ds, time.Since(start))
		}
		time.Sleep(max(0, thinBenchWindow/thinBenchDraws-time.Since(start)))
	}
	return ds, nil
}

func thinMeasurePeerdesk(t *testing.T, url, conn, points string) error {
	ctx := t.Context()
	var pts []image.Point
	for _, p := range strings.Split(points, ";") {
		var pt image.Point
		if _, err := fmt.Sscanf(p, "%d,%d", &pt.X, &pt.Y); err != nil {
			return err
		}
		pts = append(pts, pt)
	}
	id, err := strconv.ParseInt(conn, 10, 64)
	if err != nil {
		return err
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := client.WithHTTPClient(&http.Client{Transport: tr})
	cookie, err := client.Login(ctx, url, testAdmin, testPassword, hc)
	if err != nil {
		return err
	}
	jctx, cancel := context.WithTimeout(ctx, netnsChildWait)
	var noVideo client.Option
	if os.Getenv(thinNoVideoEnv) != "" {
		noVideo = client.WithoutVideo()
	}
	s, err := client.Join(jctx, url, id, cookie, hc, client.WithSettingEngine(*thinEngine()), noVideo)
	cancel()
	if err != nil {
		return err
	}
	defer s.Close()
	time.Sleep(thinBenchSettle)
	st0, t0 := s.Stats(), time.Now()
	ds, err := thinDraws(ctx, func(ctx context.Context, c [3]byte) error {
		return s.WaitFor(ctx, func(img *image.RGBA) bool {
			for _, p := range pts {
				if got := img.RGBAAt(p.X, p.Y); [3]byte{got.R, got.G, got.B} != c {
					return false
				}
			}
			return true
		})
	})
	if err != nil {
		return err
	}
	el, st := time.Since(t0).Seconds(), s.Stats()
	netnsSay(thinMetricPrefix+"draw-p50-ms %.1f", ms(percentile(ds, 50)))
	netnsSay(thinMetricPrefix+"draw-p90-ms %.1f", ms(percentile(ds, 90)))
	netnsSay(thinMetricPrefix+"updates/s %.2f", float64(st.Frames-st0.Frames)/el)
	netnsSay(thinMetricPrefix+"KB/s %.1f", float64(st.Bytes-st0.Bytes)/el/1000)
	netnsSay(thinMetricPrefix+"link-limited %d", map[bool]int{false: 0, true: 1}[st.LinkLimited])
	return nil
}

func thinMeasureGuacd(t *testing.T, addr, vncPort string) error {
	ctx, cancel := context.WithTimeout(t.Context(), netnsChildWait)
	g, err := dialGuacd(ctx, addr, "127.0.0.1", vncPort, benchW, benchH)
	cancel()
	if err != nil {
		return err
	}
	defer g.close()
	time.Sleep(thinBenchSettle)
	syncs0, delays0, bytes0, _ := g.stats()
	t0 := time.Now()
	if _, err := thinDraws(t.Context(), nil); err != nil {
		return err
	}
	syncs, delays, bytes, err := g.stats()
	if err != nil {
		return fmt.Errorf("guacd connection: %w", err)
	}
	el := time.Since(t0).Seconds()
	delays = slices.Clone(delays[len(delays0):])
	if len(delays) == 0 {
		return errors.New("no sync from guacd")
	}
	netnsSay(thinMetricPrefix+"guacd-syncs/s %.2f", float64(syncs-syncs0)/el)
	netnsSay(thinMetricPrefix+"guacd-sync-delay-p50-ms %.1f", ms(percentile(delays, 50)))
	netnsSay(thinMetricPrefix+"guacd-sync-delay-p90-ms %.1f", ms(percentile(delays, 90)))
	netnsSay(thinMetricPrefix+"guacd-KB/s %.1f", float64(bytes-bytes0)/el/1000)
	return nil
}
