package pipeline

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"peerdesk/relay/wire"
)

// TestTileEncoderRenditions: a flat tile goes as a paletted PNG at full rendition and, at the
// lighter one (peers whose link is the limit), as the smaller of that PNG and a lossless WebP
// (text: the WebP), or the PNG with PNGOnly; a photographic tile goes as JPEG.
func TestTileEncoderRenditions(t *testing.T) {
	cfg := Config{}.withDefaults()
	text := image.NewRGBA(image.Rect(0, 0, 64, 64))
	paletteText(text, text.Rect, 0)
	photo := image.NewRGBA(image.Rect(0, 0, 330, 200))
	fillPhoto(photo, photo.Rect, 0)
	sizes := map[wire.Format]int{}
	for _, c := range []struct {
		pngOnly bool
		r       rendition
		format  wire.Format
		final   bool
	}{{false, full, wire.FormatPNG, false}, {false, lighter, wire.FormatWebP, true}, {true, lighter, wire.FormatPNG, true}} {
		cfg.PNGOnly = c.pngOnly
		e := newTileEncoder(&png.Encoder{CompressionLevel: png.BestSpeed}, cfg)
		f, b, final, err := e.encode(e.load(text, text.Rect), c.r)
		if err != nil || f != c.format || final != c.final {
			t.Fatalf("%+v: text tile as format %d, final %v (%v)", c, f, final, err)
		}
		sizes[f] = len(b)
		f, b, _, err = e.encode(e.load(photo, image.Rect(64, 64, 128, 128)), c.r)
		if err != nil || f != wire.FormatJPEG || !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
			t.Fatalf("photographic tile as format %d (%v)", f, err)
		}
	}
	cfg.StdJPEG = true
	e := newTileEncoder(&png.Encoder{CompressionLevel: png.BestSpeed}, cfg)
	if f, b, _, err := e.encode(e.load(photo, image.Rect(64, 64, 128, 128)), full); err != nil || f != wire.FormatJPEG || !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
		t.Fatalf("StdJPEG: photographic tile as format %d (%v)", f, err)
	}
	if sizes[wire.FormatWebP] >= sizes[wire.FormatPNG] {
		t.Errorf("the WebP (%d bytes) is not smaller than the PNG (%d)", sizes[wire.FormatWebP], sizes[wire.FormatPNG])
	}
	t.Logf("text tile: WebP %d bytes, PNG %d", sizes[wire.FormatWebP], sizes[wire.FormatPNG])
}
