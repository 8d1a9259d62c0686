package main

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"peerdesk/internal/testproc"
)

// xterm starts an xterm of the X geometry geom (columns x rows + position) running the shell
// command cmd, and waits until it is mapped.
func (d *tigerVNC) xterm(geom, cmd string) *exec.Cmd {
	d.t.Helper()
	testproc.NeedBins(d.t, "xterm", "xdotool")
	c := testproc.Start(d.t, nil, "xterm", "-display", d.display, "-geometry", geom, "-bg", "white", "-fg", "black",
		"-e", "sh", "-c", cmd)
	d.x("", "xdotool", "search", "--sync", "--onlyvisible", "--class", "xterm")
	return c
}

// waitMouse waits until X's pointer is at p.
func (d *tigerVNC) waitMouse(ctx context.Context, p image.Point) {
	d.t.Helper()
	want := fmt.Sprintf("X=%d\nY=%d\n", p.X, p.Y)
	pollX(ctx, d.t, func() string {
		if got := string(d.x("", "xdotool", "getmouselocation", "--shell")); !strings.HasPrefix(got, want) {
			return fmt.Sprintf("X pointer at %q, want %v", got, p)
		}
		return ""
	})
}

// TestBrowserVNC: real Chromium on a real VNC desktop. The canvas shows the X server's pixels,
// the page draws the desktop's cursor shape, a click moves X's pointer and typed keys land in
// an xterm exactly as typed; a paste reaches the X clipboard and the X clipboard reaches the
// page; the VNC server killed shows "host desktop unavailable" and, restarted, frames resume
// without a reload.
func TestBrowserVNC(t *testing.T) {
	d := startTigerVNC(t, vncW, vncH)
	testproc.NeedBins(t, "xterm", "xdotool")
	h := newVNCHarness(t, d.addr())
	drv := startDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	drv.do(map[string]any{"cmd": "open", "url": h.url})
	drv.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	r := drv.do(map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 20000})
	if r["width"] != float64(vncW) || r["height"] != float64(vncH) {
		t.Fatalf("session view: %v", r)
	}

	// The click puts X's pointer where the page's is; Xtigervnc then sends its shape rather
	// than drawing it into the pixels, and the page draws it over the canvas.
	d.x("", "xsetroot", "-cursor_name", "left_ptr")
	click := image.Pt(250, 200)
	drv.do(map[string]any{"cmd": "click", "x": click.X, "y": click.Y})
	d.waitMouse(ctx, click)
	r = drv.do(map[string]any{"cmd": "cursor", "visible": true})
	hot, _ := r["hotspot"].([]any)
	w, _ := r["width"].(float64)
	hh, _ := r["height"].(float64)
	if w < 1 || hh < 1 || len(hot) != 2 || hot[0].(float64) >= w || hot[1].(float64) >= hh || r["pointer"] != "none" {
		t.Fatalf("drawn cursor %v, want a shape with its hotspot inside and the browser pointer hidden", r)
	}

	d.x("", "xsetroot", "-solid", "#3366cc")
	shot := d.screenshot()
	if c := shot.RGBAAt(click.X, click.Y); c.R != 0x33 || c.G != 0x66 || c.B != 0xcc {
		t.Fatalf("X screenshot shows %v after xsetroot", c)
	}
	pts := samplePoints(vncW, vncH, click.X, click.Y)
	drv.waitCanvasMatches(ctx, pts, func() *image.RGBA { return shot })

	// Keys land in an xterm exactly as typed: shifted characters, Tab, Backspace, Enter and
	// Ctrl+U (which erases the line typed so far).
	typed := filepath.Join(t.TempDir(), "typed")
	d.xterm("50x8+0+0", "stty -echo; exec cat > "+typed)
	inTerm := image.Pt(60, 40)
	drv.do(map[string]any{"cmd": "click", "x": inTerm.X, "y": inTerm.Y})
	d.waitMouse(ctx, inTerm)
	const text = `Hello, World! 1+1=2 (a_b) "q" ~x`
	drv.do(map[string]any{"cmd": "type", "text": text})
	for _, k := range []string{"Shift+A", "z", "Backspace", "Tab", "k", "Enter", "g", "Control+u", ".", "Enter"} {
		drv.do(map[string]any{"cmd": "press", "key": k})
	}
	want := text + "A\tk\n.\n"
	pollX(ctx, t, func() string {
		if b, _ := os.ReadFile(typed); len(b) < len(want) {
			return fmt.Sprintf("the xterm got %q, want %q", b, want)
		}
		return ""
	})
	if b, _ := os.ReadFile(typed); string(b) != want {
		t.Fatalf("the xterm got %q, want %q", b, want)
	}

	// A paste on the page reaches the X clipboard, in Latin-1 as RFB carries it.
	drv.do(map[string]any{"cmd": "paste", "text": "from the page → X, ß"})
	waitHostClipboard(ctx, t, d, "from the page ? X, ß")

	// The X clipboard reaches the page, which copies it to the local clipboard on a click.
	d.x("héllo from X", "xclip", "-i", "-selection", "clipboard")
	r = drv.do(map[string]any{"cmd": "hostClipboard", "text": "héllo from X", "copy": true})
	if r["copied"] != "héllo from X" {
		t.Fatalf("the host clipboard button copied %q", r["copied"])
	}

	// Text scrolling in an xterm reaches the page as COPY messages (Xtigervnc's CopyRects or
	// the relay's scroll detection), and the canvas ends exactly as X shows it.
	copies := func() (n uint64) {
		for _, st := range h.agent.Pipeline().PeerStats() {
			n += st.Copies
		}
		return n
	}
	before := copies()
	done := filepath.Join(t.TempDir(), "scrolled")
	d.xterm("40x12+0+60", "for i in $(seq 1 80); do echo scrolled line $i; sleep 0.02; done; touch "+done+"; exec sleep 60")
	pollX(ctx, t, func() string {
		if _, err := os.Stat(done); err != nil {
			return "the xterm is still scrolling"
		}
		return ""
	})
	if copies() == before {
		t.Fatal("no COPY sent to the page for the scroll")
	}
	var term []image.Point
	for y := 64; y < 230; y += 3 {
		for x := 4; x < 250; x += 5 {
			term = append(term, image.Pt(x, y))
		}
	}
	shot = d.screenshot()
	drv.waitCanvasMatches(ctx, term, func() *image.RGBA { return shot })
	t.Logf("%d COPY messages to the page", copies()-before)

	// The VNC server goes away: the page says so over the last frame, without error notices.
	shot = d.screenshot()
	drv.waitCanvasMatches(ctx, pts, func() *image.RGBA { return shot })
	frames := drv.do(map[string]any{"cmd": "state"})["frames"].(float64)
	d.stop()
	drv.do(map[string]any{"cmd": "waitState", "state": "host-unavailable", "timeout": 20000})
	r = drv.do(map[string]any{"cmd": "stateText"})
	if s, _ := r["text"].(string); !strings.HasPrefix(s, "Host desktop unavailable") {
		t.Fatalf("state text %q", s)
	}
	drv.do(map[string]any{"cmd": "click", "x": click.X, "y": click.Y}) // refused by the relay, quietly
	if bad := drv.mismatches(pts, shot); len(bad) != 0 {
		t.Fatalf("the last frame is gone while the desktop is unavailable: %v", bad[0])
	}

	// It comes back on the same port: the page resumes on the same connection.
	d.start()
	drv.do(map[string]any{"cmd": "waitState", "state": "connected", "timeout": 20000})
	drv.do(map[string]any{"cmd": "click", "x": click.X, "y": click.Y}) // X's pointer away from the sampled grid
	d.waitMouse(ctx, click)
	d.x("", "xsetroot", "-solid", "#cc6633")
	shot = d.screenshot()
	drv.waitCanvasMatches(ctx, pts, func() *image.RGBA { return shot })
	r = drv.do(map[string]any{"cmd": "state"})
	if r["frames"].(float64) <= frames {
		t.Fatalf("no new frames after the desktop came back: %v (before %v)", r, frames)
	}
	if r := drv.do(map[string]any{"cmd": "eval", "js": `document.getElementById('notice').hidden`}); r["value"] != true {
		t.Fatalf("a notice is shown: %v", drv.do(map[string]any{"cmd": "eval", "js": `document.getElementById('notice').textContent`})["value"])
	}
}
