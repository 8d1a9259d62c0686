package demo

import (
	"bytes"
	"context"
	"errors"
	"image"
	"testing"
	"time"

	"go.uber.org/goleak"

	"peerdesk/relay/wire"
)

func newStill(t *testing.T) *Desktop {
	t.Helper()
	d, err := New(Config{Width: 320, Height: 240, Still: true})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func input(t *testing.T, d *Desktop, ins ...wire.Input) {
	t.Helper()
	for _, in := range ins {
		if err := d.Input(in); err != nil {
			t.Fatalf("Input(%+v): %v", in, err)
		}
	}
}

func pointer(x, y int, buttons uint8) wire.Input {
	return wire.Input{Type: wire.MsgPointer, X: x, Y: y, Buttons: buttons}
}

func key(keysym uint32) wire.Input { return wire.Input{Type: wire.MsgKey, Keysym: keysym, Down: true} }

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"small", Config{Width: 32, Height: 32}, true},
		{"too small", Config{Width: 31, Height: 100}, false},
		{"width only", Config{Width: 640}, false},
		{"too large", Config{Width: wire.MaxDimension + 1, Height: 100}, false},
		{"fps", Config{FPS: 121}, false},
		{"busy", Config{Busy: 101}, false},
		{"negative busy", Config{Busy: -1}, false},
		{"grain", Config{Busy: 10, Grain: 64}, true},
		{"too much grain", Config{Busy: 10, Grain: 65}, false},
		{"negative grain", Config{Grain: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.cfg)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("New(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
			if d != nil && d.Snapshot().Rect.Empty() {
				t.Fatal("empty scene")
			}
		})
	}
	d, err := New(Config{})
	if err != nil || d.Snapshot().Rect != image.Rect(0, 0, 1280, 720) {
		t.Fatalf("default desktop: %v", err)
	}
}

func TestStillSceneIsStable(t *testing.T) {
	d := newStill(t)
	a, b := d.Snapshot(), d.Snapshot()
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("two snapshots of a still desktop differ")
	}
	if a.RGBAAt(5, 5) != background || a.RGBAAt(5, 239) != barColors[0] {
		t.Fatalf("background %v, first bar %v", a.RGBAAt(5, 5), a.RGBAAt(5, 239))
	}
}

func TestPointerPaints(t *testing.T) {
	d := newStill(t)
	before := d.Snapshot()
	input(t, d,
		pointer(100, 150, wire.ButtonLeft), pointer(100, 150, 0), // a click: a dot
		pointer(200, 120, wire.ButtonLeft), pointer(260, 120, wire.ButtonLeft), pointer(260, 120, 0), // a drag: a line
		pointer(300, 20, 0), // the pointer, away from the strokes
	)
	after := d.Snapshot()
	for _, p := range []image.Point{{100, 150}, {102, 152}, {200, 120}, {230, 121}, {260, 120}} {
		if before.RGBAAt(p.X, p.Y) == PaintColor || after.RGBAAt(p.X, p.Y) != PaintColor {
			t.Errorf("pixel %v: %v before, %v after painting", p, before.RGBAAt(p.X, p.Y), after.RGBAAt(p.X, p.Y))
		}
	}
	if after.RGBAAt(150, 150) == PaintColor || after.RGBAAt(230, 130) == PaintColor {
		t.Error("paint outside the strokes")
	}
	if after.RGBAAt(300, 20) != foreground || after.RGBAAt(305, 20) != foreground {
		t.Errorf("pointer cross not drawn at 300,20: %v", after.RGBAAt(300, 20))
	}
}

func TestKeysType(t *testing.T) {
	d := newStill(t)
	empty := d.Snapshot()
	input(t, d, key('A'), wire.Input{Type: wire.MsgKey, Keysym: 'A'}) // press and release
	typed := d.Snapshot()
	if bytes.Equal(empty.Pix, typed.Pix) {
		t.Fatal("typing a key changed nothing")
	}
	if diff := changed(empty, typed); !diff.In(d.textArea) {
		t.Fatalf("typing changed %v, outside the text area %v", diff, d.textArea)
	}
	input(t, d, key(0xe9), key(unicodeBase+0x263a), key(0xffe1)) // é, ☺, Shift (ignored)
	if d.lines[0][1] != 'é' || d.lines[0][2] != '☺' || len(d.lines[0]) != 3 {
		t.Fatalf("typed %q", string(d.lines[0]))
	}
	input(t, d, key(keyBackSpace), key(keyBackSpace))
	if !bytes.Equal(d.Snapshot().Pix, typed.Pix) {
		t.Fatal("BackSpace did not restore the scene")
	}
	input(t, d, key(keyReturn), key('b'))
	lines := d.Snapshot()
	input(t, d, key(keyBackSpace), key(keyBackSpace), key(keyBackSpace), key(keyBackSpace))
	if bytes.Equal(lines.Pix, typed.Pix) || !bytes.Equal(d.Snapshot().Pix, empty.Pix) {
		t.Fatal("Return and BackSpace did not edit lines")
	}
	for range 1000 { // bounded: old lines scroll out
		input(t, d, key('x'))
	}
	if len(d.lines) != maxLines {
		t.Fatalf("%d lines after much typing, want %d", len(d.lines), maxLines)
	}
}

// changed returns the bounding box of the pixels that differ between a and b.
func changed(a, b *image.RGBA) image.Rectangle {
	var r image.Rectangle
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			if a.RGBAAt(x, y) != b.RGBAAt(x, y) {
				r = r.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return r
}

func TestWheelScrollsBars(t *testing.T) {
	d := newStill(t)
	before := d.Snapshot()
	input(t, d, wire.Input{Type: wire.MsgWheel, X: 10, Y: 10, DY: 1})
	after := d.Snapshot()
	if diff := changed(before, after); diff.Empty() || !diff.In(d.bars) {
		t.Fatalf("wheel changed %v, want a change inside the bars %v", diff, d.bars)
	}
	input(t, d, wire.Input{Type: wire.MsgWheel, X: 10, Y: 10, DY: -1})
	if !bytes.Equal(d.Snapshot().Pix, before.Pix) {
		t.Fatal("scrolling back did not restore the bars")
	}
}

func TestBadInput(t *testing.T) {
	d := newStill(t)
	before := d.Snapshot()
	for _, in := range []wire.Input{
		pointer(320, 0, wire.ButtonLeft),
		pointer(0, 240, 0),
		pointer(-1, 5, wire.ButtonLeft),
		pointer(1<<40, 5, 0),
		{Type: wire.MsgWheel, X: 5, Y: -3, DY: 1},
		{Type: 0x7f},
		{},
	} {
		if err := d.Input(in); !errors.Is(err, ErrBadInput) {
			t.Errorf("Input(%+v) = %v, want ErrBadInput", in, err)
		}
	}
	input(t, d, key(0xffffffff), key(unicodeBase+0xd800), key(0)) // unknown keys: ignored
	if !bytes.Equal(d.Snapshot().Pix, before.Pix) {
		t.Fatal("rejected input changed the scene")
	}
}

// recorder collects Run's updates for a test.
type recorder struct {
	updates chan []image.Rectangle
	frame   *image.RGBA
}

func (r *recorder) update(frame *image.RGBA, damage []image.Rectangle) {
	r.frame = frame
	r.updates <- append([]image.Rectangle(nil), damage...)
}

func (r *recorder) next(t *testing.T) []image.Rectangle {
	t.Helper()
	select {
	case d := <-r.updates:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no update from Run")
		return nil
	}
}

func TestRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	d, err := New(Config{Width: 200, Height: 150, FPS: 100})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{updates: make(chan []image.Rectangle)}
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx, rec.update) }()

	if dmg := rec.next(t); len(dmg) != 1 || dmg[0] != d.bounds {
		t.Fatalf("first update damages %v, want the whole desktop", dmg)
	}
	if err := d.Run(ctx, rec.update); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	// The box moves every frame: the next update damages its old and new places only.
	dmg := rec.next(t)
	var area int
	for _, r := range dmg {
		area += r.Dx() * r.Dy()
	}
	if len(dmg) == 0 || area >= 200*150/2 {
		t.Fatalf("animation damages %v", dmg)
	}
	cancel()
	for {
		select {
		case <-rec.updates: // Run was sending one more update
		case err := <-ran:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run returned %v", err)
			}
			return
		}
	}
}

func TestRunDeliversInput(t *testing.T) {
	d := newStill(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{updates: make(chan []image.Rectangle, 1)}
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx, rec.update) }()
	rec.next(t)
	input(t, d, key('z'))
	dmg := rec.next(t)
	if len(dmg) != 1 || dmg[0] != d.textArea {
		t.Fatalf("typing damages %v, want the text area %v", dmg, d.textArea)
	}
	if want := d.Snapshot(); !bytes.Equal(rec.frame.Pix, want.Pix) {
		t.Fatal("the frame Run sent differs from the scene")
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}

	done, stop := context.WithCancel(context.Background())
	stop()
	if err := d.Run(done, rec.update); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with an ended context returned %v", err)
	}
}

func TestBusyBandChangesEveryFrame(t *testing.T) {
	d, err := New(Config{Width: 128, Height: 100, Busy: 50})
	if err != nil {
		t.Fatal(err)
	}
	a := d.Snapshot()
	d.mu.Lock()
	d.animate(time.Now())
	d.mu.Unlock()
	diff := changed(a, d.Snapshot())
	if !d.band.In(diff) || d.band.Dy() != 50 {
		t.Fatalf("one frame changed %v, want at least the band %v", diff, d.band)
	}
}

// TestBusyBandGrain: grain adds noise of at most its amplitude to the band and leaves the
// rest of the scene alone.
func TestBusyBandGrain(t *testing.T) {
	plain, err := New(Config{Width: 128, Height: 100, Busy: 50, Still: true})
	if err != nil {
		t.Fatal(err)
	}
	grainy, err := New(Config{Width: 128, Height: 100, Busy: 50, Grain: 32, Still: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := plain.Snapshot(), grainy.Snapshot()
	noisy := 0
	for y := range 100 {
		for x := range 128 {
			i := a.PixOffset(x, y)
			for c := range 3 {
				d := b.Pix[i+c] - a.Pix[i+c] // the grain wraps like the band's gradient
				switch in := image.Pt(x, y).In(grainy.band); {
				case !in && d != 0:
					t.Fatalf("grain at %d,%d outside the band %v", x, y, grainy.band)
				case in && d >= 32:
					t.Fatalf("grain of %d at %d,%d, amplitude 32", d, x, y)
				case in && d != 0:
					noisy++
				}
			}
		}
	}
	if noisy < 128*50 {
		t.Fatalf("%d noisy channel values in a band of %d pixels", noisy, 128*50)
	}
}

// TestPasteTypes checks that clipboard text shows as if typed, newlines as Return.
func TestPasteTypes(t *testing.T) {
	pasted, typed := newStill(t), newStill(t)
	input(t, pasted, wire.Input{Type: wire.MsgClipboard, Text: "Hi é\nthere"})
	for _, k := range []uint32{'H', 'i', ' ', 0xe9, 0xff0d, 't', 'h', 'e', 'r', 'e'} {
		input(t, typed, wire.Input{Type: wire.MsgKey, Keysym: k, Down: true})
	}
	if !bytes.Equal(pasted.Snapshot().Pix, typed.Snapshot().Pix) {
		t.Fatal("pasted text differs from the same text typed")
	}
	if bytes.Equal(pasted.Snapshot().Pix, newStill(t).Snapshot().Pix) {
		t.Fatal("pasting changed nothing")
	}
}
