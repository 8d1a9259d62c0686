package vnc

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"peerdesk/internal/testproc"
	"peerdesk/relay/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Addr: "127.0.0.1:5900"}, true},
		{"no address", Config{}, false},
		{"no port", Config{Addr: "localhost"}, false},
		{"negative timeout", Config{Addr: "h:1", DialTimeout: -1}, false},
		{"backoff", Config{Addr: "h:1", MinBackoff: time.Second, MaxBackoff: time.Millisecond}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("New(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
		})
	}
}

// TestVNCAuthResponse checks that the first 8 bytes of the password, and only those, count;
// TestVNCAuth and TestVersions check the response against real servers.
func TestVNCAuthResponse(t *testing.T) {
	challenge := []byte("0123456789abcdef")
	got := fmt.Sprintf("%x", vncAuthResponse("password-too-long", challenge))
	if want := fmt.Sprintf("%x", vncAuthResponse("password", challenge)); got != want {
		t.Errorf("only the first 8 bytes should count: %s != %s", got, want)
	}
	if got == fmt.Sprintf("%x", vncAuthResponse("passwore", challenge)) {
		t.Error("the 8th byte does not count")
	}
}

// startXterm starts an xterm at the top left of display with the shell command cmd and
// returns its window id once it is mapped.
func startXterm(t *testing.T, display string, cmd string) string {
	t.Helper()
	testproc.NeedBins(t, "xterm", "xdotool")
	testproc.Start(t, nil, "xterm", "-display", display, "-geometry", "60x10+0+0", "-bg", "white", "-fg", "black",
		"-e", "sh", "-c", cmd)
	return strings.Fields(string(xrun(t, display, "xdotool", "search", "--sync", "--onlyvisible", "--class", "xterm")))[0]
}

// TestPixels checks that what X clients draw arrives in the framebuffer exactly as the X
// server's screenshot shows it, through x11vnc and TigerVNC, with ZRLE and with Raw.
func TestPixels(t *testing.T) {
	tests := []struct {
		name      string
		start     func(t *testing.T) (display, addr string)
		encodings []int32
	}{
		{"x11vnc ZRLE", func(t *testing.T) (string, string) {
			d := startXvfb(t, "-nopw")
			return d.display, d.addr
		}, nil},
		{"tigervnc ZRLE", func(t *testing.T) (string, string) { return startTigerVNC(t, "-SecurityTypes", "None") }, nil},
		{"tigervnc Raw CopyRect", func(t *testing.T) (string, string) { return startTigerVNC(t, "-SecurityTypes", "None") },
			[]int32{encCopyRect, encRaw, encDesktopSize}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			display, addr := tt.start(t)
			start := time.Now()
			_, f, _ := runClient(t, Config{Addr: addr}, tt.encodings...)
			f.waitFirst()
			t.Logf("first frame %v after Run", time.Since(start))

			xrun(t, display, "xdotool", "mousemove", "--sync", fmt.Sprint(screenW-1), fmt.Sprint(screenH-1))
			start = time.Now()
			xrun(t, display, "xsetroot", "-solid", "#3366cc")
			f.waitColor(image.Pt(screenW/2, screenH-1), [3]byte{0x33, 0x66, 0xcc})
			t.Logf("root colour arrived %v after xsetroot", time.Since(start))

			win := startXterm(t, display, "echo 'Hello, peerdesk! 0123456789'; exec sleep 600")
			f.waitFor("black text on white in the xterm", func(img *image.RGBA) string {
				var white, black int
				for y := range 60 {
					for x := range 300 {
						switch p := img.RGBAAt(x, y); {
						case p.R == 0xff && p.G == 0xff && p.B == 0xff:
							white++
						case p.R == 0 && p.G == 0 && p.B == 0:
							black++
						}
					}
				}
				if white < 1000 || black < 100 {
					return fmt.Sprintf("%d white and %d black pixels", white, black)
				}
				return ""
			})
			f.waitScreen(display)
			// A moved window: TigerVNC sends it as CopyRect when asked to.
			xrun(t, display, "xdotool", "windowmove", "--sync", win, "150", "200")
			f.waitScreen(display)
		})
	}
}

// TestVersions runs x11vnc as an RFB 3.3 server with VNC Authentication and as a 3.7 server
// without.
func TestVersions(t *testing.T) {
	testproc.NeedBins(t, "x11vnc")
	passwd := filepath.Join(t.TempDir(), "passwd")
	xrun(t, "", "x11vnc", "-storepasswd", "s3cret!x", passwd)
	for _, tt := range []struct {
		version, password string
		args              []string
	}{
		{"3.3", "s3cret!x", []string{"-rfbauth", passwd}},
		{"3.7", "", []string{"-nopw"}},
	} {
		t.Run(tt.version, func(t *testing.T) {
			d := startXvfb(t, append([]string{"-rfbversion", tt.version}, tt.args...)...)
			_, f, _ := runClient(t, Config{Addr: d.addr, Password: tt.password})
			f.waitFirst()
			xrun(t, d.display, "xsetroot", "-solid", "#c0ffee")
			f.waitColor(image.Pt(10, 10), [3]byte{0xc0, 0xff, 0xee})
		})
	}
}

// TestVNCAuth runs TigerVNC with VNC Authentication: the right password shows the desktop,
// a wrong one ends Run with ErrAuth.
func TestVNCAuth(t *testing.T) {
	testproc.NeedBins(t, "vncpasswd")
	passwd := filepath.Join(t.TempDir(), "passwd")
	cmd := exec.Command("vncpasswd", "-f")
	cmd.Stdin = strings.NewReader("hunter2\nhunter2\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vncpasswd: %v", err)
	}
	if err := os.WriteFile(passwd, out, 0o600); err != nil {
		t.Fatal(err)
	}
	display, addr := startTigerVNC(t, "-SecurityTypes", "VncAuth", "-PasswordFile", passwd)

	_, f, _ := runClient(t, Config{Addr: addr, Password: "hunter2"})
	xrun(t, display, "xsetroot", "-solid", "#123456")
	f.waitColor(image.Pt(0, 0), [3]byte{0x12, 0x34, 0x56})

	for _, password := range []string{"hunter3", ""} {
		_, f, run := runClient(t, Config{Addr: addr, Password: password})
		select {
		case <-run.stopped:
		case <-time.After(waitLimit):
			t.Fatalf("Run with password %q did not give up", password)
		}
		if !errors.Is(run.err, ErrAuth) {
			t.Errorf("Run with password %q = %v, want ErrAuth", password, run.err)
		}
		if f.n != 0 {
			t.Errorf("%d updates with password %q", f.n, password)
		}
	}
}

// poll waits until ok holds for state outside this process, failing after waitLimit.
func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInput moves X's pointer and types into an xterm through TigerVNC.
func TestInput(t *testing.T) {
	display, addr := startTigerVNC(t, "-SecurityTypes", "None")
	cl, f, _ := runClient(t, Config{Addr: addr})
	f.waitFirst()
	typed := filepath.Join(t.TempDir(), "typed")
	startXterm(t, display, "stty -echo; exec cat > "+typed)

	input := func(in wire.Input) {
		t.Helper()
		if err := cl.Input(in); err != nil {
			t.Fatalf("Input(%+v): %v", in, err)
		}
	}
	for _, p := range []image.Point{{123, 45}, {200, 70}} {
		input(wire.Input{Type: wire.MsgPointer, X: p.X, Y: p.Y})
		want := fmt.Sprintf("X=%d\nY=%d\n", p.X, p.Y)
		poll(t, "the pointer at "+p.String(), func() bool {
			return strings.HasPrefix(string(xrun(t, display, "xdotool", "getmouselocation", "--shell")), want)
		})
	}
	input(wire.Input{Type: wire.MsgWheel, X: 200, Y: 70, DY: 3}) // accepted; X shows no trace of it to check
	if err := cl.Input(wire.Input{Type: wire.MsgPointer, X: screenW, Y: 0}); !errors.Is(err, ErrBadInput) {
		t.Errorf("pointer outside the desktop: %v, want ErrBadInput", err)
	}

	const (
		shift     = 0xffe1
		control   = 0xffe3
		backSpace = 0xff08
		tab       = 0xff09
		enter     = 0xff0d
	)
	key := func(keysym uint32) {
		input(wire.Input{Type: wire.MsgKey, Keysym: keysym, Down: true})
		input(wire.Input{Type: wire.MsgKey, Keysym: keysym})
	}
	// Like a browser: shifted characters come with Shift held, as their shifted keysym.
	const text = "Hello, World! 1+1=2 (a_b) \"q\" ~x"
	for _, r := range text {
		shifted := strings.ContainsRune(`ABCDEFGHIJKLMNOPQRSTUVWXYZ!"#$%&()*+:<>?@^_{|}~`, r)
		if shifted {
			input(wire.Input{Type: wire.MsgKey, Keysym: shift, Down: true})
		}
		key(uint32(r))
		if shifted {
			input(wire.Input{Type: wire.MsgKey, Keysym: shift})
		}
	}
	key('z')
	key(backSpace)
	key(tab)
	// Ctrl+U erases the line typed so far: a control combination reaching the terminal.
	key('k')
	key(enter)
	key('g')
	input(wire.Input{Type: wire.MsgKey, Keysym: control, Down: true})
	key('u')
	input(wire.Input{Type: wire.MsgKey, Keysym: control})
	key('.')
	key(enter)
	want := text + "\tk\n.\n"
	poll(t, "the typed text in the xterm", func() bool {
		b, _ := os.ReadFile(typed)
		return len(b) >= len(want)
	})
	if b, _ := os.ReadFile(typed); string(b) != want {
		t.Errorf("the xterm got %q, want %q", b, want)
	}
}

// TestReconnect kills x11vnc and starts it again: Run reconnects and updates resume.
func TestReconnect(t *testing.T) {
	d := startXvfb(t, "-nopw")
	cl, f, _ := runClient(t, Config{Addr: d.addr})
	f.waitFirst()
	xrun(t, d.display, "xsetroot", "-solid", "#aa0000")
	f.waitColor(image.Pt(5, 5), [3]byte{0xaa, 0, 0})

	testproc.Stop(d.vnc)
	poll(t, "the client to notice", func() bool {
		return errors.Is(cl.Input(wire.Input{Type: wire.MsgPointer, X: 1, Y: 1}), ErrUnavailable)
	})
	xrun(t, d.display, "xsetroot", "-solid", "#00bb00")
	start := time.Now()
	d.startVNC(t)
	f.waitColor(image.Pt(5, 5), [3]byte{0, 0xbb, 0})
	t.Logf("frames resumed %v after restarting x11vnc", time.Since(start))
	if err := cl.Input(wire.Input{Type: wire.MsgPointer, X: 1, Y: 1}); err != nil {
		t.Errorf("Input after reconnecting: %v", err)
	}
}

// TestResize changes TigerVNC's screen size with xrandr: the framebuffer follows, through
// ExtendedDesktopSize and through DesktopSize.
func TestResize(t *testing.T) {
	for _, tt := range []struct {
		name      string
		encodings []int32
	}{
		{"ExtendedDesktopSize", nil},
		{"DesktopSize", []int32{encZRLE, encRaw, encDesktopSize}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testproc.NeedBins(t, "xrandr")
			display, addr := startTigerVNC(t, "-SecurityTypes", "None")
			_, f, _ := runClient(t, Config{Addr: addr}, tt.encodings...)
			xrun(t, display, "xsetroot", "-solid", "#336699")
			f.waitColor(image.Pt(0, 0), [3]byte{0x33, 0x66, 0x99})
			xrun(t, display, "xrandr", "--fb", "800x600")
			xrun(t, display, "xsetroot", "-solid", "#996633")
			f.waitColor(image.Pt(799, 599), [3]byte{0x99, 0x66, 0x33})
			f.waitScreen(display)
		})
	}
}

// TestDemand rests the client while nobody watches: the screen changes and no update comes;
// watched again, it gets every pixel at once.
func TestDemand(t *testing.T) {
	display, addr := startTigerVNC(t, "-SecurityTypes", "None")
	cl, f, _ := runClient(t, Config{Addr: addr})
	cl.SetDemand(false)
	f.waitFirst() // the handshake asks for one whole frame all the same
	xrun(t, display, "xsetroot", "-solid", "#aa0000")
	f.mu.Lock()
	n := f.n
	f.mu.Unlock()
	// Unwatched, TigerVNC sends nothing: a frame asked for comes within milliseconds here, so
	// one second without one is the proof.
	select {
	case <-f.ready:
		f.mu.Lock()
		if f.n > n {
			t.Errorf("%d updates came while nobody watched", f.n-n)
		}
		f.mu.Unlock()
	case <-time.After(time.Second):
	}
	start := time.Now()
	cl.SetDemand(true)
	f.waitColor(image.Pt(5, 5), [3]byte{0xaa, 0, 0})
	t.Logf("watched again: the change came in %v", time.Since(start))
	cl.SetDemand(true) // repeating the state asks for nothing more
	xrun(t, display, "xsetroot", "-solid", "#00bb00")
	f.waitColor(image.Pt(5, 5), [3]byte{0, 0xbb, 0}) // and updates flow as before
}

// TestCopies: a scrolling xterm on TigerVNC arrives as CopyRects, each told to NotifyCopies
// before the update that holds it: a rectangle moved up within the xterm, and the framebuffer
// still matches the screen once the scrolling stops.
func TestCopies(t *testing.T) {
	display, addr := startTigerVNC(t, "-SecurityTypes", "None")
	cfg := Config{Addr: addr, Logger: zerolog.New(zerolog.NewTestWriter(t))}
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type moved struct {
		src image.Rectangle
		dst image.Point
	}
	copies := make(chan moved, 1024)
	cl.NotifyCopies(func(src image.Rectangle, dst image.Point) {
		select {
		case copies <- moved{src, dst}:
		default:
		}
	})
	f := &frames{t: t, ready: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cl.Run(ctx, f.update)
	}()
	defer func() { cancel(); <-done }()
	f.waitFirst()
	startXterm(t, display, "for i in $(seq 1 60); do echo line $i; sleep 0.02; done; exec sleep 60")
	deadline := time.After(waitLimit)
	for {
		select {
		case m := <-copies:
			if m.src.Min.X == m.dst.X && m.src.Min.Y > m.dst.Y && m.src.Dx() > 100 {
				t.Logf("CopyRect %v to %v", m.src, m.dst)
				f.waitScreen(display)
				return
			}
		case <-deadline:
			t.Fatal("no CopyRect moving the xterm's lines up")
		}
	}
}
