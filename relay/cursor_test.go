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

// recordingSender is a display channel that records the type of every message sent, with a
// buffered amount the test sets.
type recordingSender struct {
	types    []byte
	last     []byte
	buffered uint64
}

func (r *recordingSender) Send(b []byte) error {
	r.types, r.last = append(r.types, b[0]), bytes.Clone(b)
	return nil
}

func (r *recordingSender) BufferedAmount() uint64 { return r.buffered }

// TestDisplaySenderCursor: the cursor goes out right after the first SIZE, every change
// follows, and a change meeting a full transport waits for it to drain, the newest only.
func TestDisplaySenderCursor(t *testing.T) {
	const highWater = 100
	first, _ := encodeCursor(image.NewNRGBA(image.Rect(0, 0, 2, 2)), image.Pt(1, 1))
	out := &recordingSender{}
	ds := newDisplaySender(out, highWater, first)
	if err := ds.setCursor(first); err != nil {
		t.Fatal(err)
	}
	if len(out.types) != 0 {
		t.Fatalf("message types %v before the first SIZE, want none", out.types)
	}
	for _, m := range [][]byte{wire.EncodeSize(64, 40), wire.EncodeFrame(1)} {
		if err := ds.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if want := []byte{wire.MsgSize, wire.MsgCursor, wire.MsgFrame}; !bytes.Equal(out.types, want) {
		t.Fatalf("message types %v, want %v", out.types, want)
	}

	out.buffered = highWater + 1 // the transport is now above high water
	second, _ := encodeCursor(image.NewNRGBA(image.Rect(0, 0, 3, 3)), image.Point{})
	third, _ := encodeCursor(nil, image.Point{})
	for _, c := range [][]byte{second, third} {
		if err := ds.setCursor(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds.flush(); err != nil {
		t.Fatal(err)
	}
	if n := len(out.types); n != 3 {
		t.Fatalf("%d messages sent above high water, want none", n-3)
	}
	out.buffered = 0
	if err := ds.flush(); err != nil {
		t.Fatal(err)
	}
	if want := []byte{wire.MsgSize, wire.MsgCursor, wire.MsgFrame, wire.MsgCursor}; !bytes.Equal(out.types, want) {
		t.Fatalf("message types %v, want one more CURSOR once drained", out.types)
	}
	if !bytes.Equal(out.last, third) {
		t.Fatal("the cursor sent once drained is not the newest")
	}
	if err := ds.flush(); err != nil || len(out.types) != 4 {
		t.Fatalf("a second flush sent %d more messages (%v), want none", len(out.types)-4, err)
	}
}
