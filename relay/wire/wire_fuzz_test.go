package wire

import (
	"bytes"
	"testing"
)

// FuzzDecodeDisplay checks that DecodeDisplay never panics and that whatever it accepts
// encodes back to the same bytes.
func FuzzDecodeDisplay(f *testing.F) {
	tiles := AppendTile(AppendTilesHeader(nil), Tile{X: 1, Y: 2, W: 3, H: 4, Format: FormatPNG, Data: []byte("png")})
	tiles = AppendTile(tiles, Tile{X: 0, Y: 0, W: 64, H: 64, Format: FormatJPEG})
	f.Add(EncodeSize(1280, 720), 0, 0)
	f.Add(EncodeFrame(7), 10, 10)
	f.Add(tiles, 100, 100)
	f.Add([]byte{MsgTiles, 0, 1}, 100, 100)
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
		case MsgTiles:
			again = AppendTilesHeader(nil)
			for _, tl := range d.Tiles {
				if tl.X+tl.W > w || tl.Y+tl.H > h || tl.W < 1 || tl.H < 1 {
					t.Fatalf("accepted tile %+v outside %dx%d", tl, w, h)
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
		default:
			t.Fatalf("accepted input type 0x%02x", in.Type)
		}
		if in.Type != MsgKey && (in.X < 0 || in.Y < 0 || in.X >= w || in.Y >= h) {
			t.Fatalf("accepted position %d,%d outside %dx%d", in.X, in.Y, w, h)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %x as %+v, which encodes to %x", b, in, again)
		}
	})
}
