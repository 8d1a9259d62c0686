package client

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"peerdesk/relay/wire"
)

// cursorPNG encodes a w×h pointer shape whose pixel x,y has colour paint(x, y).
func cursorPNG(t *testing.T, w, h int, paint func(x, y int) color.NRGBA) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, paint(x, y))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCursorAndClipboard: a CURSOR message becomes Cursor's shape with alpha (and an empty one
// none, a lying one a decode error); SetClipboard sends a clipboard input message and refuses
// what the protocol does not carry; the host's clipboard arrives as an event.
func TestCursorAndClipboard(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	h, s := joinDisplayed(ctx, t, 100, 100)
	if img, _ := s.Cursor(); img != nil {
		t.Fatalf("a cursor before any CURSOR: %v", img.Bounds())
	}

	paint := func(x, y int) color.NRGBA {
		return color.NRGBA{R: uint8(40 * x), G: uint8(80 * y), B: 7, A: uint8(60 * (x + y))}
	}
	h.sendDisplay(wire.EncodeCursor(wire.Cursor{HotX: 2, HotY: 1, W: 4, H: 3, PNG: cursorPNG(t, 4, 3, paint)}))
	err := s.WaitCursor(ctx, func(img image.Image, hot image.Point) bool { return img != nil })
	if err != nil {
		t.Fatal(err)
	}
	img, hot := s.Cursor()
	if img.Bounds() != image.Rect(0, 0, 4, 3) || hot != image.Pt(2, 1) {
		t.Fatalf("cursor %v with hotspot %v, want 4x3 with 2,1", img.Bounds(), hot)
	}
	for y := range 3 {
		for x := range 4 {
			if got := color.NRGBAModel.Convert(img.At(x, y)); got != paint(x, y) {
				t.Errorf("cursor pixel %d,%d is %v, want %v", x, y, got, paint(x, y))
			}
		}
	}

	// A PNG of another size than the message says is refused and changes nothing; an empty
	// cursor hides the pointer.
	h.sendDisplay(wire.EncodeCursor(wire.Cursor{W: 5, H: 3, PNG: cursorPNG(t, 4, 3, paint)}), wire.EncodeCursor(wire.Cursor{}))
	if err := s.WaitCursor(ctx, func(img image.Image, _ image.Point) bool { return img == nil }); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Cursors != 2 || st.DecodeErrors != 1 {
		t.Errorf("stats %+v, want 2 cursors and 1 decode error", st)
	}

	if err := s.SetClipboard("héllo ✓"); err != nil {
		t.Fatal(err)
	}
	if got := recv(ctx, t, h.inputMsgs); !bytes.Equal(got, wire.EncodeClipboard("héllo ✓")) {
		t.Errorf("host got % x", got)
	}
	for _, bad := range []string{"\xff", strings.Repeat("a", wire.MaxClipboard+1)} {
		if err := s.SetClipboard(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("SetClipboard of %d bytes: %v, want ErrInvalidArgument", len(bad), err)
		}
	}

	h.sendControl(wire.Control{Type: wire.ControlClipboard, Text: "from the host"})
	select {
	case ev := <-s.Events():
		if ev.Type != wire.ControlClipboard || ev.Text != "from the host" {
			t.Errorf("event %+v, want the host clipboard", ev)
		}
	case <-ctx.Done():
		t.Fatal("no clipboard event")
	}
}
