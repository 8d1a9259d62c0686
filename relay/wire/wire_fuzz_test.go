package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeDisplay checks that DecodeDisplay never panics and that whatever it accepts
// encodes back to the same bytes.
func FuzzDecodeDisplay(f *testing.F) {
	tiles := AppendTile(AppendTilesHeader(nil), Tile{X: 1, Y: 2, W: 3, H: 4, Format: FormatPNG, Data: []byte("png")})
	tiles = AppendTile(tiles, Tile{X: 0, Y: 0, W: 64, H: 64, Format: FormatJPEG})
	tiles = AppendTile(tiles, Tile{X: 64, Y: 0, W: 36, H: 64, Format: FormatFill, Data: []byte{1, 2, 3}})
	f.Add(EncodeSize(1280, 720), 0, 0)
	f.Add(EncodeFrame(7), 10, 10)
	f.Add(tiles, 100, 100)
	f.Add([]byte{MsgTiles, 0, 1}, 100, 100)
	f.Add(EncodeCursor(Cursor{HotX: 3, HotY: 4, W: 16, H: 24, PNG: []byte("png")}), 0, 0)
	f.Add(EncodeCursor(Cursor{}), 0, 0)
	f.Add(EncodeCursor(Cursor{HotX: 16, HotY: 0, W: 16, H: 16, PNG: []byte("png")}), 0, 0)
	f.Add(EncodeCopy(Copy{SrcX: 0, SrcY: 16, W: 100, H: 84, DstX: 0, DstY: 0}), 100, 100)
	f.Add(EncodeCopy(Copy{SrcX: 1, SrcY: 1, W: 100, H: 100}), 100, 100)
	video, _ := EncodeVideo(Video{X: 64, Y: 0, W: 36, H: 64, Frame: 9, Key: true}, make([]byte, MaxVideoPart+10))
	f.Add(video[0], 100, 100)
	f.Add(video[1], 100, 100)
	delta, _ := EncodeVideo(Video{W: 10, H: 10, Frame: 10, Layer: 2}, []byte("vp8"))
	f.Add(delta[0], 10, 10)
	f.Fuzz(func(t *testing.T, b []byte, w, h int) {
		d, err := DecodeDisplay(b, w, h)
		if err != nil {
			return
		}
		var again []byte
		switch d.Type {
		case MsgSize:
			again = EncodeSize(d.Width, d.Height)
		case MsgFrame:
			again = EncodeFrame(d.Seq)
		case MsgCursor:
			c := d.Cursor
			if c.W > MaxCursorSize || c.H > MaxCursorSize || (c.W > 0 && (c.HotX >= c.W || c.HotY >= c.H || len(c.PNG) == 0)) {
				t.Fatalf("accepted cursor %dx%d with hotspot %d,%d and %d bytes", c.W, c.H, c.HotX, c.HotY, len(c.PNG))
			}
			again = EncodeCursor(c)
		case MsgCopy:
			c := d.Copy
			if c.W < 1 || c.H < 1 || c.SrcX+c.W > w || c.SrcY+c.H > h || c.DstX+c.W > w || c.DstY+c.H > h {
				t.Fatalf("accepted copy %+v outside %dx%d", c, w, h)
			}
			again = EncodeCopy(c)
		case MsgVideo:
			v := d.Video
			if v.W < 1 || v.H < 1 || v.X+v.W > w || v.Y+v.H > h || v.Part >= v.Parts || v.Layer >= VideoLayers || len(v.Data) == 0 {
				t.Fatalf("accepted video %+v outside %dx%d", v, w, h)
			}
			msgs, err := EncodeVideo(v, make([]byte, MaxVideoPart*(v.Parts-1)+len(v.Data)))
			if err != nil {
				t.Fatal(err)
			}
			again = append(msgs[v.Part][:videoHead:videoHead], v.Data...)
		case MsgTiles:
			again = AppendTilesHeader(nil)
			for _, tl := range d.Tiles {
				if tl.X+tl.W > w || tl.Y+tl.H > h || tl.W < 1 || tl.H < 1 {
					t.Fatalf("accepted tile %+v outside %dx%d", tl, w, h)
				}
				if tl.Format == FormatFill && len(tl.Data) != FillSize {
					t.Fatalf("accepted a fill tile of %d bytes", len(tl.Data))
				}
				again = AppendTile(again, tl)
			}
		default:
			t.Fatalf("accepted message type 0x%02x", d.Type)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %x as %+v, which encodes to %x", b, d, again)
		}
	})
}

// FuzzDecodeInput checks that DecodeInput never panics, accepts only positions inside the
// desktop, and that whatever it accepts encodes back to the same bytes.
func FuzzDecodeInput(f *testing.F) {
	f.Add(EncodePointer(10, 20, ButtonLeft|ButtonRight), 1280, 720)
	f.Add(EncodeWheel(5, 5, -1, 3), 100, 100)
	f.Add(EncodeKey(0xff0d, true), 1, 1)
	f.Add(EncodePointer(100, 0, 0), 100, 100)
	f.Add(EncodeClipboard("héllo, wörld ✓"), 1, 1)
	f.Add(EncodeClipboard(""), 1, 1)
	f.Add(EncodePointAt(99, 0), 100, 100)
	f.Add([]byte{MsgClipboard, 0, 0, 0, 2, 0xc3, 0x28}, 1, 1)
	f.Fuzz(func(t *testing.T, b []byte, w, h int) {
		in, err := DecodeInput(b, w, h)
		if err != nil {
			return
		}
		var again []byte
		switch in.Type {
		case MsgPointer:
			again = EncodePointer(in.X, in.Y, in.Buttons)
		case MsgWheel:
			again = EncodeWheel(in.X, in.Y, in.DX, in.DY)
		case MsgKey:
			again = EncodeKey(in.Keysym, in.Down)
		case MsgPointAt:
			again = EncodePointAt(in.X, in.Y)
		case MsgClipboard:
			if len(in.Text) > MaxClipboard || !utf8.ValidString(in.Text) {
				t.Fatalf("accepted clipboard text of %d bytes, valid UTF-8 %v", len(in.Text), utf8.ValidString(in.Text))
			}
			again = EncodeClipboard(in.Text)
		default:
			t.Fatalf("accepted input type 0x%02x", in.Type)
		}
		if (in.Type == MsgPointer || in.Type == MsgWheel || in.Type == MsgPointAt) && (in.X < 0 || in.Y < 0 || in.X >= w || in.Y >= h) {
			t.Fatalf("accepted position %d,%d outside %dx%d", in.X, in.Y, w, h)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %x as %+v, which encodes to %x", b, in, again)
		}
	})
}

// TestClipboardLimits checks the clipboard's bounds both ways: the input message refuses text
// over MaxClipboard, and the control message stays within MaxMessage whatever JSON escaping
// does to the text, cutting it on a character boundary.
func TestClipboardLimits(t *testing.T) {
	if _, err := DecodeInput(EncodeClipboard(strings.Repeat("a", MaxClipboard+1)), 1, 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("text over the limit: %v, want ErrTooLarge", err)
	}
	if in, err := DecodeInput(EncodeClipboard(strings.Repeat("é", MaxClipboard/2)), 1, 1); err != nil || len(in.Text) != MaxClipboard {
		t.Errorf("text at the limit: %d bytes, %v", len(in.Text), err)
	}
	tests := []struct {
		name, text string
		whole      bool
	}{
		{"plain", "hello\nworld", true},
		{"largest", strings.Repeat("ü", MaxClipboard/2), true},
		{"escaped", strings.Repeat("\x01", MaxClipboard), false},
		{"escaped runes", strings.Repeat("<é>", MaxClipboard/4), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := EncodeClipboardControl(tt.text)
			if len(b) > MaxMessage {
				t.Fatalf("%d bytes, over %d", len(b), MaxMessage)
			}
			c, err := DecodeControl(b)
			if err != nil || c.Type != ControlClipboard {
				t.Fatalf("decoded %+v, %v", c, err)
			}
			if !strings.HasPrefix(tt.text, c.Text) || !utf8.ValidString(c.Text) || (c.Text == tt.text) != tt.whole {
				t.Fatalf("text of %d bytes became %d bytes (whole: %v)", len(tt.text), len(c.Text), tt.whole)
			}
			if len(b) < MaxMessage-16 && !tt.whole {
				t.Fatalf("cut to %d bytes, far below the limit", len(b))
			}
		})
	}
}

// TestFillTiles: a fill tile carries exactly one colour's three bytes.
func TestFillTiles(t *testing.T) {
	for n := range 5 {
		msg := AppendTile(AppendTilesHeader(nil), Tile{W: 8, H: 8, Format: FormatFill, Data: make([]byte, n)})
		_, err := DecodeDisplay(msg, 8, 8)
		if (err == nil) != (n == FillSize) || (err != nil && !errors.Is(err, ErrMalformed)) {
			t.Errorf("fill tile of %d bytes: %v", n, err)
		}
	}
}

// FuzzDecodePeerDisplay checks that DecodePeerDisplay never panics and that whatever it
// accepts encodes back to the same bytes.
func FuzzDecodePeerDisplay(f *testing.F) {
	f.Add(EncodeConsumed(0))
	f.Add(EncodeConsumed(1<<32 - 1))
	f.Add(EncodeCaps(CapCopy))
	f.Add([]byte{MsgConsumed, 1, 2})
	f.Add(EncodeFrame(7))
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, v, err := DecodePeerDisplay(b)
		if err != nil {
			return
		}
		again := EncodeConsumed(v)
		if typ == MsgCaps {
			again = EncodeCaps(v)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %x as 0x%02x %d, which encodes to %x", b, typ, v, again)
		}
	})
}

// TestConsumptionReports checks when a peer reports: after every FRAME and every
// ConsumedEvery bytes, with the count wrapping modulo 2^32.
func TestConsumptionReports(t *testing.T) {
	var c Consumption
	tiles := make([]byte, 40<<10, ConsumedEvery)
	tiles[0] = MsgTiles
	if m := c.Applied(tiles); m != nil {
		t.Fatalf("reported after %d bytes", len(tiles))
	}
	if m := c.Applied(tiles); m == nil || binary.BigEndian.Uint32(m[1:]) != 80<<10 {
		t.Fatalf("after 80 KiB: %x", m)
	}
	if m := c.Applied(EncodeFrame(1)); m == nil || binary.BigEndian.Uint32(m[1:]) != 80<<10+5 {
		t.Fatalf("after a FRAME: %x", m)
	}
	c = Consumption{n: 1<<32 - 10, reported: 1<<32 - 10}
	if m := c.Applied(EncodeFrame(2)); m == nil || binary.BigEndian.Uint32(m[1:]) != 1<<32-5 {
		t.Fatalf("near the wrap: %x", m)
	}
	if m := c.Applied(tiles[:ConsumedEvery]); m == nil || binary.BigEndian.Uint32(m[1:]) != ConsumedEvery-5 {
		t.Fatalf("across the wrap: %x", m)
	}
	if _, _, err := DecodePeerDisplay(EncodeFrame(3)); !errors.Is(err, ErrUnknownType) {
		t.Errorf("a FRAME from a peer: %v", err)
	}
}

// FuzzDecodeControl checks that DecodeControl never panics, refuses what is over MaxMessage or
// has no type, and that whatever it accepts encodes and decodes again to the same message.
func FuzzDecodeControl(f *testing.F) {
	f.Add([]byte(`{"type":"welcome","identity":{"name":"Anonymous","role":"guest"},"readOnly":true}`))
	f.Add(EncodeClipboardControl("héllo"))
	f.Add([]byte(`{"type":""}`))
	f.Add([]byte(`{"type":"presence","participants":[{"id":"a","name":"x","count":2}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeControl(b)
		if err != nil {
			return
		}
		if len(b) > MaxMessage || c.Type == "" {
			t.Fatalf("accepted %d bytes of type %q", len(b), c.Type)
		}
		again, err := DecodeControl(c.Encode())
		if err != nil || !bytes.Equal(again.Encode(), c.Encode()) {
			t.Fatalf("%+v encodes to a message that decodes to %+v, %v", c, again, err)
		}
	})
}
