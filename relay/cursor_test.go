package relay

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"

	"peerdesk/relay/wire"
)

// TestEncodeCursor checks the CURSOR messages of pointer shapes: the PNG holds the shape with
// its alpha, the hotspot is moved inside, and shapes the protocol cannot carry are refused.
func TestEncodeCursor(t *testing.T) {
	shape := image.NewNRGBA(image.Rect(10, 10, 26, 34)) // not at 0,0: only the size counts
	for i := range shape.Pix {
		shape.Pix[i] = byte(i * 7)
	}
	msg, err := encodeCursor(shape, image.Pt(20, -3))
	if err != nil {
		t.Fatal(err)
	}
	d, err := wire.DecodeDisplay(msg, 0, 0)
	if err != nil || d.Type != wire.MsgCursor {
		t.Fatalf("decoded %+v, %v", d, err)
	}
	if c := d.Cursor; c.W != 16 || c.H != 24 || c.HotX != 15 || c.HotY != 0 {
		t.Fatalf("cursor %dx%d hotspot %d,%d, want 16x24 hotspot 15,0", c.W, c.H, c.HotX, c.HotY)
	}
	img, err := png.Decode(bytes.NewReader(d.Cursor.PNG))
	if err != nil {
		t.Fatal(err)
	}
	for y := range 24 {
		for x := range 16 {
			if got, want := color.NRGBAModel.Convert(img.At(x, y)), shape.NRGBAAt(10+x, 10+y); got != want {
				t.Fatalf("pixel %d,%d is %v, want %v", x, y, got, want)
			}
		}
	}

	for _, empty := range []*image.NRGBA{nil, image.NewNRGBA(image.Rectangle{})} {
		if msg, err := encodeCursor(empty, image.Pt(3, 3)); err != nil || !bytes.Equal(msg, wire.EncodeCursor(wire.Cursor{})) {
			t.Errorf("empty shape: % x, %v", msg, err)
		}
	}
	if _, err := encodeCursor(image.NewNRGBA(image.Rect(0, 0, wire.MaxCursorSize+1, 1)), image.Point{}); err == nil {
		t.Error("a cursor wider than the limit was encoded")
	}
	noise := image.NewNRGBA(image.Rect(0, 0, wire.MaxCursorSize, wire.MaxCursorSize))
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range noise.Pix {
		noise.Pix[i] = byte(rnd.Uint32())
	}
	if _, err := encodeCursor(noise, image.Point{}); err == nil {
		t.Error("a cursor whose PNG exceeds a message was encoded")
	}
}
