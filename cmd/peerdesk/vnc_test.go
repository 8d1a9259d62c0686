package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net"
	"os"
	"os/exec"
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
	"peerdesk/relay/wire"
)

// A real desktop end to end: Xtigervnc (an X server that is its own VNC server) on loopback,
// the agent's VNC source, the signaling server and Go peers.

const vncW, vncH = 320, 240

// tigerVNC is an Xtigervnc server that the test may kill and start again on the same port.
type tigerVNC struct {
	t       testing.TB
	w, h    int // screen size
	port    int
	display string
	cmd     *exec.Cmd
}

// startTigerVNC starts Xtigervnc with a w×h screen on a free port.
func startTigerVNC(t testing.TB, w, h int) *tigerVNC {
	t.Helper()
	testproc.NeedBins(t, "Xtigervnc", "xsetroot", "xclip", "import", "xrandr")
	d := &tigerVNC{t: t, w: w, h: h, port: testproc.FreePort(t)}
	d.start()
	return d
}

func (d *tigerVNC) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// start starts Xtigervnc on a free display and waits until it accepts X clients.
func (d *tigerVNC) start() {
	d.t.Helper()
	d.display, d.cmd = testproc.StartX(d.t, "Xtigervnc", "-geometry", fmt.Sprintf("%dx%d", d.w, d.h), "-depth", "24",
		"-localhost", "-rfbport", strconv.Itoa(d.port), "-SecurityTypes", "None", "-AlwaysShared", "-nolisten", "tcp", "-noreset")
}

// stop kills the server: its desktop goes away.
func (d *tigerVNC) stop() { testproc.Stop(d.cmd) }

// x runs an X client on the desktop with stdin as its input and returns its output. Its
// output goes through a file, not a pipe: xclip -i leaves a child behind that owns the
// selection, and would hold a pipe open.
func (d *tigerVNC) x(stdin string, name string, args ...string) []byte {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.t.Context(), 20*time.Second)
	defer cancel()
	out, err := os.CreateTemp(d.t.TempDir(), "x-*.out")
	if err != nil {
		d.t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+d.display)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), out, out
	err = cmd.Run()
	b, _ := os.ReadFile(out.Name())
	if err != nil {
		d.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, b)
	}
	return b
}

// hostClipboard returns the X clipboard's text.
func (d *tigerVNC) hostClipboard() string {
	d.t.Helper()
	return string(d.x("", "xclip", "-o", "-selection", "clipboard"))
}

// screenshot returns the X server's own picture of the screen.
func (d *tigerVNC) screenshot() *image.RGBA {
	d.t.Helper()
	img, err := png.Decode(bytes.NewReader(d.x("", "import", "-window", "root", "png:-")))
	if err != nil {
		d.t.Fatal(err)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	return rgba
}

// newVNCHarness is newHarness with the agent serving the VNC server at addr.
func newVNCHarness(t testing.TB, addr string) *harness {
	t.Helper()
	return newVNCHarnessWith(t, addr, pipeline.Config{})
}

// newVNCHarnessWith is newVNCHarness with the agent's pipeline configured by pcfg.
func newVNCHarnessWith(t testing.TB, addr string, pcfg pipeline.Config) *harness {
	t.Helper()
	return newHarness(t, harnessConfig{pipeline: pcfg, source: func(log zerolog.Logger) (relay.Source, error) {
		return vnc.New(vnc.Config{Addr: addr, Logger: log, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	}})
}

// waitScreen waits until the peer's framebuffer shows colour c and equals the X server's
// screenshot at sampled points.
func waitScreen(ctx context.Context, t *testing.T, s *client.Session, d *tigerVNC, c [3]byte) {
	t.Helper()
	var points []image.Point
	for y := 5; y < vncH; y += vncH / 4 {
		for x := 7; x < vncW; x += vncW / 5 {
			points = append(points, image.Pt(x, y))
		}
	}
	var wrong string
	err := s.WaitFor(ctx, func(img *image.RGBA) bool {
		for _, p := range points {
			if got := img.RGBAAt(p.X, p.Y); [3]byte{got.R, got.G, got.B} != c {
				wrong = fmt.Sprintf("pixel %v is %v, want %x", p, got, c)
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("peer never showed colour %x: %v (%s)", c, err, wrong)
	}
	shot := s.Image()
	x := d.screenshot()
	for _, p := range points {
		r, g, b, _ := x.At(p.X, p.Y).RGBA()
		if got := shot.RGBAAt(p.X, p.Y); [3]byte{got.R, got.G, got.B} != [3]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8)} {
			t.Fatalf("peer pixel %v is %v, the X screenshot's %x%x%x", p, got, r>>8, g>>8, b>>8)
		}
	}
}

// nextEvent returns the next event of s for which match holds, failing the test when ctx ends;
// the events it skips are returned too, in order.
func nextEvent(ctx context.Context, t *testing.T, s *client.Session, what string, match func(wire.Control) bool) (wire.Control, []wire.Control) {
	t.Helper()
	var skipped []wire.Control
	for {
		select {
		case ev := <-s.Events():
			if match(ev) {
				return ev, skipped
			}
			skipped = append(skipped, ev)
		case <-ctx.Done():
			t.Fatalf("no %s event; got %+v", what, skipped)
		}
	}
}

func isDesktop(state string) func(wire.Control) bool {
	return func(c wire.Control) bool { return c.Type == wire.ControlDesktop && c.State == state }
}

// TestVNCDesktop: a Go peer sees the pixels of a real VNC desktop and its cursor shape; the
// clipboard goes both ways for a full-access participant and neither way for a read-only one;
// when the VNC server dies the peers see the desktop unavailable (input is refused), and when it
// is back the same sessions see it available and new frames.
func TestVNCDesktop(t *testing.T) {
	d := startTigerVNC(t, vncW, vncH)
	h := newVNCHarness(t, d.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	owner := h.join(ctx)
	d.x("", "xsetroot", "-solid", "#3366cc")
	waitScreen(ctx, t, owner, d, [3]byte{0x33, 0x66, 0xcc})

	// Xtigervnc sends the X cursor's shape (rather than drawing it into the framebuffer) once
	// the pointer is where this client put it; another shape then replaces it.
	d.x("", "xsetroot", "-cursor_name", "left_ptr")
	if err := owner.Pointer(100, 100, 0); err != nil {
		t.Fatal(err)
	}
	var first image.Image
	err := owner.WaitCursor(ctx, func(img image.Image, _ image.Point) bool { first = img; return img != nil })
	if err != nil {
		t.Fatalf("no cursor shape: %v", err)
	}
	d.x("", "xsetroot", "-cursor_name", "hand2")
	err = owner.WaitCursor(ctx, func(img image.Image, hot image.Point) bool {
		return img != nil && hot.In(img.Bounds()) && !sameImage(img, first)
	})
	if err != nil {
		t.Fatalf("the cursor shape did not change: %v", err)
	}

	// A read-only guest.
	cookie := h.login(ctx)
	view := h.newProfile(ctx, cookie, "Watch only", true)
	_, viewURL := h.shareLink(ctx, cookie, owner, view.ID)
	guest := h.guest(ctx, viewURL)
	if img, _ := guest.Cursor(); img == nil {
		t.Error("a late joiner got no cursor shape")
	}

	// Host → full-access peer, in Latin-1 as RFB carries it.
	d.x("héllo from X", "xclip", "-i", "-selection", "clipboard")
	ev, _ := nextEvent(ctx, t, owner, "clipboard", func(c wire.Control) bool { return c.Type == wire.ControlClipboard })
	if ev.Text != "héllo from X" {
		t.Fatalf("host clipboard reached the peer as %q", ev.Text)
	}

	// Peer → host: characters outside Latin-1 become '?'.
	if err := owner.SetClipboard("peer → host, ß"); err != nil {
		t.Fatal(err)
	}
	waitHostClipboard(ctx, t, d, "peer ? host, ß")

	// The read-only guest's clipboard is dropped.
	dropped := h.agent.Stats().InputDroppedReadOnly
	if err := guest.SetClipboard("from a read-only guest"); err != nil {
		t.Fatal(err)
	}
	for h.agent.Stats().InputDroppedReadOnly == dropped {
		select {
		case <-ctx.Done():
			t.Fatal("the relay did not drop the read-only guest's clipboard")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if got := d.hostClipboard(); got != "peer ? host, ß" {
		t.Fatalf("host clipboard %q after a read-only guest's", got)
	}

	// The VNC server goes away: both peers are told, and input is refused.
	frames := owner.Frames()
	d.stop()
	ev, _ = nextEvent(ctx, t, owner, "desktop unavailable", isDesktop(wire.DesktopUnavailable))
	if ev.Message == "" {
		t.Error("desktop unavailable without a reason")
	}
	_, before := nextEvent(ctx, t, guest, "desktop unavailable", isDesktop(wire.DesktopUnavailable))
	for _, c := range before {
		if c.Type == wire.ControlClipboard {
			t.Fatalf("a read-only guest received the host clipboard: %+v", c)
		}
	}
	if err := owner.Pointer(10, 10, 0); err != nil {
		t.Fatal(err)
	}
	ev, _ = nextEvent(ctx, t, owner, "error", func(c wire.Control) bool { return c.Type == wire.ControlError })
	if ev.Code != wire.CodeDesktopUnavailable {
		t.Fatalf("input while unavailable answered with %+v", ev)
	}

	// It comes back on the same port: the same sessions resume.
	d.start()
	nextEvent(ctx, t, owner, "desktop available", isDesktop(wire.DesktopAvailable))
	nextEvent(ctx, t, guest, "desktop available", isDesktop(wire.DesktopAvailable))
	d.x("", "xsetroot", "-solid", "#cc6633")
	waitScreen(ctx, t, owner, d, [3]byte{0xcc, 0x66, 0x33})
	waitScreen(ctx, t, guest, d, [3]byte{0xcc, 0x66, 0x33})
	if owner.Frames() <= frames || owner.Err() != nil {
		t.Fatalf("owner: %d frames (%d before), err %v", owner.Frames(), frames, owner.Err())
	}
	if st := h.agent.Stats(); !st.DesktopAvailable || st.InputDroppedUnavailable == 0 {
		t.Fatalf("agent stats %+v", st)
	}

	// A resize reaches every peer as a full frame at the new size.
	d.x("", "xrandr", "--fb", "400x300")
	d.x("", "xsetroot", "-solid", "#66cc33")
	for _, p := range []*client.Session{owner, guest} {
		err := p.WaitFor(ctx, func(img *image.RGBA) bool {
			return img.Rect.Dx() == 400 && img.Rect.Dy() == 300 && img.RGBAAt(390, 290) == color.RGBA{0x66, 0xcc, 0x33, 0xff}
		})
		if err != nil {
			w, h := p.Size()
			t.Fatalf("after xrandr the peer has %dx%d: %v", w, h, err)
		}
	}
}

// waitHostClipboard waits until the X clipboard holds want.
func waitHostClipboard(ctx context.Context, t *testing.T, d *tigerVNC, want string) {
	t.Helper()
	pollX(ctx, t, func() string {
		if got := d.hostClipboard(); got != want {
			return fmt.Sprintf("host clipboard %q, want %q", got, want)
		}
		return ""
	})
}

// pollX waits until check, which says what is still wrong, returns ""; X offers no event to
// await, so it asks again every 50 ms. When ctx ends the test fails with check's last answer.
func pollX(ctx context.Context, t testing.TB, check func() string) {
	t.Helper()
	for {
		wrong := check()
		if wrong == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(wrong)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sameImage reports whether two images have the same bounds and colours.
func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}
