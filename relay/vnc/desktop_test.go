package vnc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/internal/testproc"
)

// The real X and VNC servers the tests run, each on a free display and loopback port.

const (
	screenW, screenH = 640, 480
	waitLimit        = 20 * time.Second
)

// xvfbDesktop is Xvfb with x11vnc serving it.
type xvfbDesktop struct {
	display string
	addr    string
	vncArgs []string
	vnc     *exec.Cmd
}

// startXvfb starts Xvfb and x11vnc with the extra x11vnc arguments.
func startXvfb(t *testing.T, x11vncArgs ...string) *xvfbDesktop {
	t.Helper()
	testproc.NeedBins(t, "Xvfb", "x11vnc", "xsetroot", "xdotool", "import")
	display, _ := testproc.StartX(t, "Xvfb", "-screen", "0", fmt.Sprintf("%dx%dx24", screenW, screenH), "-nolisten", "tcp", "-noreset")
	d := &xvfbDesktop{display: display}
	port := testproc.FreePort(t)
	d.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	d.vncArgs = append([]string{"-display", d.display, "-localhost", "-rfbport", strconv.Itoa(port),
		"-forever", "-shared", "-noipv6", "-quiet"}, x11vncArgs...)
	d.startVNC(t)
	return d
}

// startVNC (re)starts x11vnc; the client's reconnection finds it once it listens.
func (d *xvfbDesktop) startVNC(t *testing.T) {
	t.Helper()
	d.vnc = testproc.Start(t, nil, "x11vnc", d.vncArgs...)
}

// startTigerVNC starts Xtigervnc, an X server that is its own VNC server.
func startTigerVNC(t *testing.T, args ...string) (display, addr string) {
	t.Helper()
	testproc.NeedBins(t, "Xtigervnc", "xsetroot", "xdotool", "import")
	port := testproc.FreePort(t)
	display, _ = testproc.StartX(t, "Xtigervnc", append([]string{"-geometry", fmt.Sprintf("%dx%d", screenW, screenH),
		"-depth", "24", "-localhost", "-rfbport", strconv.Itoa(port), "-AlwaysShared", "-nolisten", "tcp", "-noreset"}, args...)...)
	return display, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// xrun runs an X client to completion on display and returns its output.
func xrun(t *testing.T, display, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

// screenshot returns the X server's own picture of the screen.
func screenshot(t *testing.T, display string) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(xrun(t, display, "import", "-window", "root", "png:-")))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// frames collects what a Client reports.
type frames struct {
	t     *testing.T
	mu    sync.Mutex
	img   *image.RGBA // a copy of the last frame
	n     int         // updates so far
	ready chan struct{}
}

func (f *frames) update(frame *image.RGBA, damage []image.Rectangle) {
	for _, r := range damage {
		if r.Empty() || !r.In(frame.Rect) {
			f.t.Errorf("damage %v outside the frame %v", r, frame.Rect)
		}
	}
	f.mu.Lock()
	if f.img == nil || f.img.Rect != frame.Rect {
		f.img = image.NewRGBA(frame.Rect)
	}
	copy(f.img.Pix, frame.Pix)
	f.n++
	f.mu.Unlock()
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// waitFor waits until check finds the last frame right, failing the test after waitLimit;
// check returns "" or what is wrong.
func (f *frames) waitFor(what string, check func(img *image.RGBA) string) {
	f.t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	wrong := "no frame"
	for {
		f.mu.Lock()
		if f.img != nil {
			wrong = check(f.img)
		}
		f.mu.Unlock()
		if wrong == "" {
			return
		}
		select {
		case <-f.ready:
		case <-deadline.C:
			f.t.Fatalf("timed out waiting for %s: %s", what, wrong)
		}
	}
}

// waitFirst waits for the first frame. x11vnc misses changes made while no client is
// connected, so tests wait for it before drawing.
func (f *frames) waitFirst() {
	f.t.Helper()
	f.waitFor("the first frame", func(*image.RGBA) string { return "" })
}

// waitColor waits until the pixel at p has colour c.
func (f *frames) waitColor(p image.Point, c [3]byte) {
	f.t.Helper()
	f.waitFor(fmt.Sprintf("colour %x at %v", c, p), func(img *image.RGBA) string {
		if got := img.RGBAAt(p.X, p.Y); got != (color.RGBA{c[0], c[1], c[2], 0xff}) {
			return fmt.Sprintf("colour %v", got)
		}
		return ""
	})
}

// waitScreen waits until the frame equals the X server's screenshot in every pixel, taking a
// new screenshot when a wait fails, since the screen may still have been changing.
func (f *frames) waitScreen(display string) {
	f.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		shot := screenshot(f.t, display)
		var diff string
		match := func(img *image.RGBA) bool {
			diff = compare(img, shot)
			return diff == ""
		}
		timer := time.NewTimer(2 * time.Second)
	wait:
		for {
			f.mu.Lock()
			ok := f.img != nil && match(f.img)
			f.mu.Unlock()
			if ok {
				timer.Stop()
				return
			}
			select {
			case <-f.ready:
			case <-timer.C:
				break wait
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("frame differs from the screenshot: %s", diff)
		}
	}
}

// cursorArea is where the tests park X's pointer: the screen's bottom right corner. A VNC
// server may draw the pointer into the framebuffer; a screenshot never shows it.
var cursorArea = image.Rect(screenW-40, screenH-40, screenW, screenH)

// compare describes the first difference between img and shot outside cursorArea, or returns
// "".
func compare(img *image.RGBA, shot image.Image) string {
	if img.Rect != shot.Bounds() {
		return fmt.Sprintf("size %v, screenshot %v", img.Rect.Size(), shot.Bounds().Size())
	}
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			if image.Pt(x, y).In(cursorArea) {
				continue
			}
			r, g, b, _ := shot.At(x, y).RGBA()
			want := [4]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8), 0xff}
			o := img.PixOffset(x, y)
			if got := [4]byte(img.Pix[o : o+4]); got != want {
				return fmt.Sprintf("pixel %d,%d is %x, screenshot %x", x, y, got, want)
			}
		}
	}
	return ""
}

// running is a Client's Run under way in a test.
type running struct {
	stopped chan struct{} // closed when Run returned
	err     error         // Run's result, once stopped is closed
}

// runClient runs a Client on cfg's server until the test ends.
func runClient(t *testing.T, cfg Config, encodings ...int32) (*Client, *frames, *running) {
	t.Helper()
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t))
	cfg.MinBackoff, cfg.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(encodings) > 0 {
		cl.encodings = encodings
	}
	f := &frames{t: t, ready: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{stopped: make(chan struct{})}
	go func() {
		defer close(run.stopped)
		run.err = cl.Run(ctx, f.update)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-run.stopped:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return cl, f, run
}
