package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"sync"
	"sync/atomic"
	"time"

	"peerdesk/internal/cimg"
	"peerdesk/relay/wire"
)

// errResized reports that the desktop was resized while a peer stream was reading a tile of
// the previous size; the stream starts over with the new size.
var errResized = errors.New("pipeline: desktop resized during a pass")

// maxPaletteColors is the most distinct colours a tile may have to be sent as a paletted PNG;
// a tile with more is treated as photographic and sent as JPEG.
const maxPaletteColors = 256

// maxTileData is the largest encoded tile that still fits a TILES message on its own.
const maxTileData = wire.MaxMessage - wire.TilesHeader - wire.TileOverhead

// tile is one square of the pipeline's framebuffer (edge tiles are smaller), with its version
// and the cache of its newest encodings.
type tile struct {
	rect image.Rectangle // where the tile lies in the framebuffer of generation gen
	gen  uint64

	// version is guarded by Pipeline.mu: 1 for the tile's first content, +1 for every change;
	// changed is when it last changed, and quiet says the tile had not changed for quietSpan
	// before that.
	version uint64
	changed time.Time
	quiet   bool
	hits    uint16 // changes since the last video check, guarded by Pipeline.mu

	// photo says the tile's last encoding was photographic (JPEG): video detection reads it.
	photo atomic.Bool

	// encMu is held while the tile is encoded, so that every version is encoded at most once
	// per rendition: streams that need the tile meanwhile wait and reuse the result.
	encMu sync.Mutex
	enc   [renditions]encoding // guarded by encMu
}

// rendition is how faithfully a tile is encoded.
type rendition uint8

// Renditions of a tile: full (paletted PNG or JPEG at Config.JPEGQuality) for every peer whose
// link keeps up, lighter (the same PNG, or JPEG at Config.LighterJPEGQuality) shared by the
// peers whose link is the limit.
const (
	full rendition = iota
	lighter
	renditions
)

// encoding is one encoded version of a tile; data is shared by every stream and never modified.
type encoding struct {
	version uint64
	format  wire.Format
	data    []byte
	// exact says the data is lossless (fill, PNG or WebP); final that no smaller lossless
	// encoding is to be had (a fill, or the smaller of PNG and WebP), so that the same bytes
	// serve every rendition.
	exact, final bool
}

// encoded returns an encoding of rendition r of the tile at least as new as version want,
// encoding the tile's current pixels with e if the cache is older. If another stream is
// encoding the tile and wait is false, it returns ok false at once, so that the caller can
// encode other tiles meanwhile (streams then encode in parallel). It returns errResized if the
// tile no longer belongs to the pipeline's framebuffer.
func (t *tile) encoded(p *Pipeline, want uint64, r rendition, e *tileEncoder, wait bool) (enc encoding, ok bool, err error) {
	if wait {
		t.encMu.Lock()
	} else if !t.encMu.TryLock() {
		return encoding{}, false, nil
	}
	defer t.encMu.Unlock()
	if t.enc[r].version >= want {
		return t.enc[r], true, nil
	}
	if f := t.enc[full]; r == lighter && f.final && f.version >= want {
		return f, true, nil // nothing lighter to be had
	}
	p.mu.RLock()
	if p.gen != t.gen {
		p.mu.RUnlock()
		return encoding{}, false, errResized
	}
	version := t.version
	img := e.load(p.fb, t.rect)
	p.mu.RUnlock()

	format, data, final, err := e.encode(img, r)
	if err != nil {
		return encoding{}, false, err
	}
	enc = encoding{version: version, format: format, data: data, exact: format != wire.FormatJPEG, final: final}
	switch {
	case final: // exact and as small as it gets: for every peer
		t.enc[full], t.enc[lighter] = enc, enc
	case enc.exact: // a PNG: a peer on a limited link asks for the smaller of it and a WebP
		t.enc[full] = enc
	default:
		t.enc[r] = enc
	}
	t.photo.Store(format == wire.FormatJPEG)
	p.encodes[r].Add(1)
	p.encodedBytes.Add(uint64(len(data)))
	return enc, true, nil
}

// webpLevel is the effort of lossless WebP tiles (0 to 9): level 1 gives nearly all of the
// gain of the slower ones on text (docs/BENCHMARKS.md).
const webpLevel = 1

// tileEncoder turns tile pixels into fill, PNG, WebP or JPEG bytes. Each peer stream borrows
// one for its scratch buffers and its TurboJPEG handle; the png.Encoder is the pipeline's,
// shared.
type tileEncoder struct {
	png     *png.Encoder
	jpeg    *cimg.JPEGEncoder // made at the first photographic tile
	quality [renditions]int
	pngOnly bool // no WebP (Config.PNGOnly)
	stdJPEG bool // image/jpeg instead of TurboJPEG (Config.StdJPEG)

	pix     []byte           // a copy of the tile being encoded, RGBA
	idx     []byte           // its palette indices
	pal     color.Palette    // its palette
	palette map[uint32]uint8 // colour (0xRRGGBB) → index in pal
}

func newTileEncoder(enc *png.Encoder, cfg Config) *tileEncoder {
	tileSize := cfg.TileSize
	return &tileEncoder{
		png:     enc,
		quality: [renditions]int{full: cfg.JPEGQuality, lighter: cfg.LighterJPEGQuality},
		pngOnly: cfg.PNGOnly,
		stdJPEG: cfg.StdJPEG,
		pix:     make([]byte, 4*tileSize*tileSize),
		idx:     make([]byte, tileSize*tileSize),
		pal:     make(color.Palette, 0, maxPaletteColors),
		palette: make(map[uint32]uint8, maxPaletteColors),
	}
}

// load copies the rectangle r of fb into the encoder's scratch image and returns it; the caller
// holds the lock that guards fb.
func (e *tileEncoder) load(fb *image.RGBA, r image.Rectangle) *image.RGBA {
	w, h := r.Dx(), r.Dy()
	img := &image.RGBA{Pix: e.pix[:4*w*h], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	for y := range h {
		off := fb.PixOffset(r.Min.X, r.Min.Y+y)
		copy(img.Pix[y*img.Stride:(y+1)*img.Stride], fb.Pix[off:off+4*w])
	}
	return img
}

// encode encodes an opaque tile: as a fill of its colour when it has one; when it has at most
// maxPaletteColors colours (flat content such as text and windows), exactly: as a paletted
// PNG, and for the lighter rendition as the smaller of that and a lossless WebP (a third
// smaller on text, for four times the CPU: spent only for peers whose link is the limit);
// else as a JPEG of rendition r's quality (TurboJPEG). final says no smaller exact encoding is
// to be had.
func (e *tileEncoder) encode(img *image.RGBA, r rendition) (format wire.Format, data []byte, final bool, err error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	pm, ok := e.paletted(img)
	if !ok && e.stdJPEG {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: e.quality[r]}); err != nil {
			return 0, nil, false, fmt.Errorf("encode JPEG tile: %w", err)
		}
		return wire.FormatJPEG, buf.Bytes(), false, nil
	}
	if !ok {
		if e.jpeg == nil {
			jpg, err := cimg.NewJPEGEncoder()
			if err != nil {
				return 0, nil, false, err
			}
			e.jpeg = jpg
		}
		b, err := e.jpeg.Encode(img.Pix, w, h, img.Stride, e.quality[r])
		if err != nil {
			return 0, nil, false, fmt.Errorf("encode JPEG tile: %w", err)
		}
		return wire.FormatJPEG, b, false, nil
	}
	if len(pm.Palette) == 1 {
		c := e.pal[0].(color.RGBA)
		return wire.FormatFill, []byte{c.R, c.G, c.B}, true, nil
	}
	var buf bytes.Buffer
	if err := e.png.Encode(&buf, pm); err != nil {
		return 0, nil, false, fmt.Errorf("encode PNG tile: %w", err)
	}
	if e.pngOnly || r == full {
		return wire.FormatPNG, buf.Bytes(), e.pngOnly, nil
	}
	b, err := cimg.EncodeWebPLossless(img.Pix, w, h, img.Stride, webpLevel)
	if err != nil {
		return 0, nil, false, fmt.Errorf("encode WebP tile: %w", err)
	}
	if len(b) < buf.Len() {
		return wire.FormatWebP, b, true, nil
	}
	return wire.FormatPNG, buf.Bytes(), true, nil
}

// paletted converts img to a paletted image backed by the encoder's scratch buffers, or reports
// false as soon as it meets more than maxPaletteColors colours.
func (e *tileEncoder) paletted(img *image.RGBA) (*image.Paletted, bool) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	clear(e.palette)
	e.pal = e.pal[:0]
	idx := e.idx[:w*h]
	last, li := uint32(1<<31), uint8(0) // last is never a colour: runs of one colour skip the map
	for i := range idx {
		p := img.Pix[4*i : 4*i+3 : 4*i+3]
		c := uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
		if c != last {
			n, ok := e.palette[c]
			if !ok {
				if len(e.pal) == maxPaletteColors {
					return nil, false
				}
				n = uint8(len(e.pal))
				e.palette[c] = n
				e.pal = append(e.pal, color.RGBA{R: p[0], G: p[1], B: p[2], A: 0xff})
			}
			last, li = c, n
		}
		idx[i] = li
	}
	return &image.Paletted{Pix: idx, Stride: w, Rect: img.Rect, Palette: e.pal}, true
}

// pngBuffers lets the shared png.Encoder reuse its compression buffers.
type pngBuffers struct{ pool sync.Pool }

// Get returns a buffer from the pool, or nil for a new one.
func (b *pngBuffers) Get() *png.EncoderBuffer {
	buf, _ := b.pool.Get().(*png.EncoderBuffer)
	return buf
}

// Put returns a buffer to the pool.
func (b *pngBuffers) Put(buf *png.EncoderBuffer) { b.pool.Put(buf) }
