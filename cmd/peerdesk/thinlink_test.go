//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
)

// The thin-link test puts the viewer behind a link thinner than what the desktop produces: the
// server and the agent (`peerdesk demo`, its busy band with film grain changing 25 times a
// second, about 14 Mbit/s of JPEG tiles) in a private network namespace, the Go peer in a
// namespace of its own linked to it by a veth pair whose host → viewer direction is shaped with
// tbf (netem is not available here). The peer measures input → pixel (it paints dots on the
// flat part of the desktop and waits for them: the input goes up an unshaped direction, the
// pixels come down behind the band's updates) and FRAMEs per second, at each rate in turn.
//
// `peerdesk demo` runs as a binary built without the race detector (PEERDESK_BIN, which make
// test builds, or one built here): under -race, JPEG encoding is about 25 times slower and
// the host could not produce what a real one does; the pipeline's flow control is tested under
// -race in relay/pipeline on a simulated link.

// thinRates are the shaped rates, with the bounds the thin-link issue sets for each.
var thinRates = []struct {
	rate     string // tc's notation
	p50, p90 time.Duration
	fps      float64
}{
	{"10mbit", 250 * time.Millisecond, 500 * time.Millisecond, 10},
	{"2mbit", 500 * time.Millisecond, 1500 * time.Millisecond, 2},
}

const (
	thinBinEnv   = "PEERDESK_BIN"
	thinDots     = 24                     // input → pixel probes per rate
	thinSettle   = 3 * time.Second        // at a new rate, before measuring
	thinQueue    = "100ms"                // tbf's latency: the bottleneck's own queue
	thinDotWait  = 5 * time.Second        // most a dot may take to appear
	thinInterval = 250 * time.Millisecond // between probes
	thinListen   = netnsPeerGW + ":8080"
)

// TestThinLink: at 10 Mbit/s the viewer of a desktop producing more stays live (input → pixel
// p50 ≤ 250 ms, p90 ≤ 500 ms, ≥ 10 updates a second) and is told its link is the limit; at
// 2 Mbit/s the desktop stays usable (p50 ≤ 500 ms).
func TestThinLink(t *testing.T) {
	_ = runPrivateNetNS(t, "thin-orchestrator", 4*time.Minute, thinBinEnv+"="+peerdeskBinary(t))
}

// peerdeskBinary returns the peerdesk binary of PEERDESK_BIN, or builds one (without the race
// detector) into a temporary directory.
func peerdeskBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(thinBinEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s: %v", thinBinEnv, err)
		}
		return bin
	}
	bin := filepath.Join(t.TempDir(), "peerdesk")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return bin
}

// thinOrchestrate builds the viewer's namespace and shaped link, runs `peerdesk demo` here and
// drives the peer.
func thinOrchestrate(t *testing.T) {
	enterPrivateNetNS(t)
	thinTopology(t)
	url := startThinDemo(t)
	peer := startNetNSChild(t, netnsPeerNS, "thin-peer", netnsURLEnv+"="+url)
	defer peer.stop()
	if line := peer.expect(netnsChildWait); !strings.HasPrefix(line, "joined") {
		t.Fatalf("peer: %q, want joined", line)
	}
	t.Logf("unshaped: %s", peer.measure(t))
	tcVerb := "add"
	for _, r := range thinRates {
		thinShape(t, tcVerb, r.rate)
		tcVerb = "change"
		time.Sleep(thinSettle) // the stream measures the new rate and adapts
		m := peer.measure(t)
		t.Logf("%s: %s", r.rate, m)
		if m.p50 > r.p50 || m.p90 > r.p90 || m.fps < r.fps {
			t.Errorf("%s: input → pixel p50 %v (want ≤ %v), p90 %v (≤ %v), %.1f updates/s (≥ %.0f)", r.rate, m.p50, r.p50, m.p90, r.p90, m.fps, r.fps)
		}
		if !m.limited {
			t.Errorf("%s: the peer was not told its link is the limit", r.rate)
		}
	}
	if out, err := exec.Command("tc", "-s", "qdisc", "show", "dev", "to-peer").CombinedOutput(); err == nil {
		t.Logf("tbf: %s", out)
	}
	thinBrowser(t, url)
}

// thinBrowser opens the session in Chromium in the viewer's namespace, still behind the
// thinnest link: the page shows that its connection is the limit, with the rate measured, and
// stops showing it once the link is unshaped.
func thinBrowser(t *testing.T, url string) {
	d := startDriverIn(t, netnsPeerNS)
	d.do(map[string]any{"cmd": "open", "url": url})
	d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword, "timeout": 30000})
	d.do(map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 30000})
	// Served from an address that is not loopback, the page is no secure context: it has no
	// WebCodecs, says so, and gets the busy band as tiles.
	if r := d.do(map[string]any{"cmd": "eval", "js": noVideoNoticeJS}); r["value"] != true {
		t.Errorf("the page in an insecure context: no-video notice %v", r["value"])
	}
	shown := d.do(map[string]any{"cmd": "link", "visible": true, "rated": true, "timeout": 20000})
	text, _ := shown["text"].(string)
	t.Logf("behind %s the page shows %q (%v)", thinRates[len(thinRates)-1].rate, text, shown["title"])
	if !strings.HasPrefix(text, "Slow connection · ") || !strings.HasSuffix(text, "bit/s") {
		t.Errorf("the page's link indicator reads %q, want Slow connection with a rate", text)
	}
	if out, err := exec.Command("tc", "qdisc", "del", "dev", "to-peer", "root").CombinedOutput(); err != nil {
		t.Fatalf("tc qdisc del: %v: %s", err, out)
	}
	start := time.Now()
	d.do(map[string]any{"cmd": "link", "visible": false, "timeout": 20000})
	t.Logf("unshaped: the indicator went away after %v", time.Since(start).Round(time.Millisecond))
	if r := d.do(map[string]any{"cmd": "eval", "js": "document.getElementById('desktop').dataset.videoFrames"}); r["value"] != "0" {
		t.Errorf("the page without WebCodecs drew %v video frames", r["value"])
	}
}

// noVideoNoticeJS waits up to 5 s for the page's notice that it cannot decode video.
const noVideoNoticeJS = `new Promise((done) => {
  const t0 = Date.now();
  const poll = () => {
    const n = document.getElementById('notice');
    if (n && !n.hidden && n.textContent.includes('cannot decode video')) done(true);
    else if (Date.now() - t0 > 5000) done(n ? n.textContent : null);
    else setTimeout(poll, 50);
  };
  poll();
})`

// startThinDemo starts `peerdesk demo` with the busy band on thinListen and returns its URL
// once it serves; the process is stopped when the test ends.
func startThinDemo(t *testing.T) string {
	t.Helper()
	return startDemoProcess(t, os.Getenv(thinBinEnv), t.TempDir(), "-listen", thinListen,
		"-demo-size", "1280x720", "-demo-fps", "25", "-demo-busy", "10", "-demo-grain", "32",
		"-turn-udp", "", "-log-level", "warn").url
}

// demoProcess is a `peerdesk demo` process.
type demoProcess struct {
	cmd    *exec.Cmd
	url    string
	killed atomic.Bool
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *demoProcess) kill() {
	p.killed.Store(true)
	_ = p.cmd.Process.Kill()
}

// startDemoProcess starts `bin demo -data data args...` (the admin's password testPassword)
// and returns it once it serves; it is stopped with SIGTERM when the test ends, and must then
// exit cleanly unless it was killed.
func startDemoProcess(t *testing.T, bin, data string, args ...string) *demoProcess {
	t.Helper()
	return startProcess(t, bin, append([]string{"demo", "-data", data}, args...), "peerdesk demo: open ")
}

// startProcess starts `bin args...` (the admin's password testPassword) and returns it once
// it printed its URL after ready; it is stopped with SIGTERM when the test ends, and must
// then exit cleanly unless it was killed.
func startProcess(t testing.TB, bin string, args []string, ready string, env ...string) *demoProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "PEERDESK_ADMIN_PASSWORD="+testPassword), env...)
	w := &lateSafeWriter{t: t}
	t.Cleanup(w.stop)
	cmd.Stderr = w
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &demoProcess{cmd: cmd}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		if !p.killed.Load() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		if err := <-exited; err != nil && !p.killed.Load() {
			t.Errorf("peerdesk %s: %v", args[0], err)
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), ready); ok && ready != "" {
				lines <- strings.Fields(url)[0]
			}
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	if ready == "" {
		return p
	}
	select {
	case url, ok := <-lines:
		if !ok {
			t.Fatalf("peerdesk %s ended before it served", args[0])
		}
		p.url = url
		return p
	case <-time.After(netnsChildWait):
		t.Fatalf("peerdesk %s did not serve within %v", args[0], netnsChildWait)
	}
	return nil
}

// thinShape limits the host → viewer direction to rate with tbf.
func thinShape(t *testing.T, verb, rate string) {
	t.Helper()
	args := []string{"qdisc", verb, "dev", "to-peer", "root", "tbf", "rate", rate, "burst", "32kbit", "latency", thinQueue}
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		t.Fatalf("tc %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// thinEngine is the pion setup of the agent and the peer: IPv4 UDP, no mDNS.
func thinEngine() *webrtc.SettingEngine {
	se := &webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return se
}

// thinMeasurement is what the peer measured at one rate.
type thinMeasurement struct {
	p50, p90 time.Duration
	fps      float64
	limited  bool
	rate     uint64 // bytes per second, as the relay measured it
}

func (m thinMeasurement) String() string {
	return fmt.Sprintf("input → pixel p50 %v p90 %v, %.1f updates/s, link limited %v at %.2f Mbit/s",
		m.p50.Round(time.Millisecond), m.p90.Round(time.Millisecond), m.fps, m.limited, float64(m.rate)*8/1e6)
}

// measure has the peer probe thinDots times and returns its figures.
func (c *netnsChild) measure(t *testing.T) thinMeasurement {
	t.Helper()
	if _, err := fmt.Fprintln(c.stdin, "measure"); err != nil {
		t.Fatal(err)
	}
	line := c.expect(thinDots*(thinDotWait+thinInterval) + 10*time.Second)
	var m thinMeasurement
	var p50, p90 int64
	if _, err := fmt.Sscanf(line, "measured %d %d %f %t %d", &p50, &p90, &m.fps, &m.limited, &m.rate); err != nil {
		t.Fatalf("peer: %q: %v", line, err)
	}
	m.p50, m.p90 = time.Duration(p50), time.Duration(p90)
	return m
}

// thinPeer joins, then answers each "measure" line on stdin with its figures.
func thinPeer(t *testing.T) {
	ctx := t.Context()
	url := os.Getenv(netnsURLEnv)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	cookie, err := client.Login(ctx, url, testAdmin, testPassword, client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := connectionID(ctx, hc, url, cookie, demoConnection)
	if err != nil {
		t.Fatal(err)
	}
	jctx, cancel := context.WithTimeout(ctx, netnsChildWait)
	s, err := client.Join(jctx, url, conn, cookie, client.WithHTTPClient(hc), client.WithSettingEngine(*thinEngine()),
		// Tiles only: the busy band as video fits even the thinnest link, and this test is
		// about a link that carries less than the desktop produces.
		client.WithLogger(testLogger(t, false)), client.WithoutPhotoDecoding(), client.WithoutVideo())
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	netnsSay("joined")
	dot := 0
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() != "measure" {
			netnsSay("bad command %q", sc.Text())
			continue
		}
		var lags []time.Duration
		start, frames := time.Now(), s.Frames()
		for range thinDots {
			at := time.Now()
			x, y := 24+(dot%40)*31, 600+(dot/40%2)*12
			dot++
			lag, err := thinProbe(ctx, s, x, y)
			if err != nil {
				netnsSay("failed: %v", err)
				return
			}
			lags = append(lags, lag)
			time.Sleep(thinInterval - time.Since(at)%thinInterval)
		}
		fps := float64(s.Frames()-frames) / time.Since(start).Seconds()
		slices.Sort(lags)
		st := s.Stats()
		netnsSay("measured %d %d %.2f %t %d", lags[len(lags)/2], lags[len(lags)*9/10], fps, st.LinkLimited, st.LinkRate)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// connectionID looks the connection called name up in the connections the login of cookie
// may use.
func connectionID(ctx context.Context, hc *http.Client, url, cookie, name string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/connections", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Cookie", "peerdesk_session="+cookie)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var conns []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&conns); err != nil {
		return 0, fmt.Errorf("connections: HTTP %d: %w", resp.StatusCode, err)
	}
	for _, c := range conns {
		if c.Name == name {
			return c.ID, nil
		}
	}
	return 0, fmt.Errorf("no connection %q among %d", name, len(conns))
}

// thinProbe paints a dot at x, y and returns how long it took to show in the framebuffer.
func thinProbe(ctx context.Context, s *client.Session, x, y int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, thinDotWait)
	defer cancel()
	start := time.Now()
	if err := errors.Join(s.Pointer(x, y, wire.ButtonLeft), s.Pointer(x, y, 0)); err != nil {
		return 0, err
	}
	if err := s.WaitFor(ctx, func(img *image.RGBA) bool { return img.RGBAAt(x+1, y+1) == demo.PaintColor }); err != nil {
		return 0, fmt.Errorf("dot at %d,%d: %w", x, y, err)
	}
	return time.Since(start), nil
}
