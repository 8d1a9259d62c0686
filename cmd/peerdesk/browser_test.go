package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"peerdesk/relay/demo"
)

// driver runs web/e2e/driver.mjs: real headless Chromium driven by playwright-core.
type driver struct {
	t   testing.TB
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startDriver launches the browser driver. Outside CI a machine without node or Chromium skips
// the test; in CI (CI=true) that is a failure, since a skipped browser test counts as missing.
func startDriver(t testing.TB) *driver { return startDriverIn(t, "") }

// startDriverIn launches the browser driver in the network namespace netns (ip netns), or in
// the test's own for "".
func startDriverIn(t testing.TB, netns string) *driver {
	t.Helper()
	dir, err := filepath.Abs("../../web/e2e")
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		missing = "playwright-core (run make deps)"
	} else if _, err := os.Stat(chromiumPath()); err != nil {
		missing = "chromium (run make deps)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser test needs %s", missing)
		}
		t.Skipf("browser test needs %s", missing)
	}
	cmd := exec.Command("node", filepath.Join(dir, "driver.mjs"))
	if netns != "" {
		cmd = exec.Command("ip", "netns", "exec", netns, "node", filepath.Join(dir, "driver.mjs"))
	}
	cmd.Dir = dir
	cmd.Stderr = testWriter{t}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	d.out.Buffer(make([]byte, 1<<20), 16<<20)
	t.Cleanup(d.close)
	if r := d.read(); r["ready"] != true {
		t.Fatalf("driver did not start: %v", r)
	}
	return d
}

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// testWriter sends the browser's console to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s", b)
	return len(b), nil
}

func (d *driver) read() map[string]any {
	d.t.Helper()
	line := make(chan []byte, 1)
	go func() {
		if d.out.Scan() {
			line <- append([]byte(nil), d.out.Bytes()...)
		}
		close(line)
	}()
	select {
	case b, ok := <-line:
		if !ok {
			d.t.Fatalf("driver exited: %v", d.out.Err())
		}
		var r map[string]any
		if err := json.Unmarshal(b, &r); err != nil {
			d.t.Fatalf("driver said %q: %v", b, err)
		}
		return r
	case <-time.After(60 * time.Second):
		d.t.Fatal("driver did not answer within 60 s")
	}
	return nil
}

// do sends one command and returns its reply, failing the test on an error reply.
func (d *driver) do(cmd map[string]any) map[string]any {
	d.t.Helper()
	r := d.try(cmd)
	if r["ok"] != true {
		d.t.Fatalf("driver %v: %v", cmd["cmd"], r["error"])
	}
	return r
}

// try sends one command and returns its reply, whatever it is.
func (d *driver) try(cmd map[string]any) map[string]any {
	d.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		d.t.Fatalf("driver: %v", err)
	}
	return d.read()
}

func (d *driver) close() {
	_ = d.in.Close()
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}

// pixelsOf reads the canvas of a selector at the given desktop points.
func (d *driver) pixelsOf(canvas string, pts []image.Point) [][3]int {
	d.t.Helper()
	arg := make([][2]int, len(pts))
	for i, p := range pts {
		arg[i] = [2]int{p.X, p.Y}
	}
	r := d.do(map[string]any{"cmd": "pixels", "points": arg, "canvas": canvas})
	raw, _ := json.Marshal(r["pixels"])
	var px [][3]int
	if err := json.Unmarshal(raw, &px); err != nil || len(px) != len(pts) {
		d.t.Fatalf("pixels reply %s: %v", raw, err)
	}
	return px
}

// mismatches lists the sampled points where the desktop canvas differs from the host.
func (d *driver) mismatches(pts []image.Point, host *image.RGBA) []string {
	return d.mismatchesOf("#desktop", pts, host)
}

// mismatchesOf lists the sampled points where the canvas of a selector differs from host.
func (d *driver) mismatchesOf(canvas string, pts []image.Point, host *image.RGBA) []string {
	var bad []string
	for i, c := range d.pixelsOf(canvas, pts) {
		o := host.PixOffset(pts[i].X, pts[i].Y)
		want := [3]int{int(host.Pix[o]), int(host.Pix[o+1]), int(host.Pix[o+2])}
		if c != want {
			bad = append(bad, fmt.Sprintf("%v: canvas %v host %v", pts[i], c, want))
		}
	}
	return bad
}

// clickShows clicks the page's canvas at click (desktop pixels) and waits for the host to apply
// the press and the release, for the click to have changed the host around click, and for the
// canvas to show the host's pixels at pts and at the corners of that change.
func (d *driver) clickShows(ctx context.Context, h *harness, click image.Point, pts []image.Point) {
	d.t.Helper()
	before := h.desk.Snapshot()
	applied := h.agent.Stats().InputApplied
	d.do(map[string]any{"cmd": "click", "x": click.X, "y": click.Y})
	waitApplied(ctx, d.t, h, applied+2)
	changed := changedBounds(before, h.desk.Snapshot())
	if changed.Empty() || !click.In(changed.Inset(-8)) {
		d.t.Fatalf("click at %v changed host pixels in %v", click, changed)
	}
	d.waitCanvasMatches(ctx, append(pts, changed.Min, changed.Max.Sub(image.Pt(1, 1))), h.desk.Snapshot)
}

// waitCanvasMatches polls the canvas until it shows the host's pixels at pts.
func (d *driver) waitCanvasMatches(ctx context.Context, pts []image.Point, host func() *image.RGBA) {
	d.t.Helper()
	for {
		bad := d.mismatches(pts, host())
		if len(bad) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("canvas never matched the host at %d of %d points, e.g. %v", len(bad), len(pts), bad[0])
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// samplePoints is a grid over the desktop plus points around (cx, cy).
func samplePoints(w, h, cx, cy int) []image.Point {
	var pts []image.Point
	for y := 3; y < h; y += h / 9 {
		for x := 5; x < w; x += w / 13 {
			pts = append(pts, image.Pt(x, y))
		}
	}
	for dy := -6; dy <= 6; dy += 2 {
		for dx := -6; dx <= 6; dx += 2 {
			pts = append(pts, image.Pt(cx+dx, cy+dy))
		}
	}
	return pts
}

// changedBounds returns the bounding box of the pixels that differ between two frames.
func changedBounds(a, b *image.RGBA) image.Rectangle {
	var r image.Rectangle
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			i := a.PixOffset(x, y)
			if a.Pix[i] != b.Pix[i] || a.Pix[i+1] != b.Pix[i+1] || a.Pix[i+2] != b.Pix[i+2] {
				r = r.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return r
}

// TestBrowserSession: real Chromium logs in, opens the demo connection, shows the host's exact
// pixels on a scaled canvas, and its click and keys act on the host at the right place.
func TestBrowserSession(t *testing.T) {
	// Larger than the browser's 1280x720 viewport, so the canvas is scaled down.
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true, Width: 1600, Height: 1000}})
	d := startDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	d.do(map[string]any{"cmd": "open", "url": h.url})
	if r := d.try(map[string]any{"cmd": "login", "username": testAdmin, "password": "wrong password"}); r["ok"] != false || !strings.Contains(fmt.Sprint(r["error"]), "invalid username or password") {
		t.Fatalf("a wrong password gave %v", r)
	}
	r := d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	if r["view"] != "list" {
		t.Fatalf("after login the page shows %v, want the connection list", r["view"])
	}
	r = d.do(map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 20000})
	if r["state"] != "connected" || r["width"] != float64(1600) || r["height"] != float64(1000) {
		t.Fatalf("session view: %v", r)
	}
	click := image.Pt(700, 420)
	pts := samplePoints(1600, 1000, click.X, click.Y)
	d.waitCanvasMatches(ctx, pts, h.desk.Snapshot)

	// A real mouse click on the scaled canvas lands on the host at the same desktop pixel.
	d.clickShows(ctx, h, click, pts)

	// Typed keys change the host, and the canvas follows.
	before := h.desk.Snapshot()
	applied := h.agent.Stats().InputApplied
	d.do(map[string]any{"cmd": "type", "text": "Hi!"})
	waitApplied(ctx, t, h, applied+6) // three keys, down and up; Shift for "H" and "!" adds more
	changed := changedBounds(before, h.desk.Snapshot())
	if changed.Empty() {
		t.Fatal("typing did not change the host desktop")
	}
	d.waitCanvasMatches(ctx, append(samplePoints(1600, 1000, changed.Min.X+4, changed.Min.Y+6), changed.Min), h.desk.Snapshot)

	// The state indicator follows the host: the agent going away shows "host unavailable".
	h.cancel()
	r = d.do(map[string]any{"cmd": "waitState", "state": "host-unavailable", "timeout": 20000})
	if r["state"] != "host-unavailable" {
		t.Fatalf("state %v after the agent stopped", r["state"])
	}
}
