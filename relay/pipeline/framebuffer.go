package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"time"

	"peerdesk/relay/wire"
)

// The pipeline's framebuffer: taking a desktop update in, tile by tile.

// quietSpan is how long a tile must have stayed unchanged for its next change to count as a
// quiet region's (a keystroke, a click, a window drawn): a peer's stream sends such changes
// ahead of those of busy regions that changed before them. About four frames of a video or
// of a scrolling terminal, which change every frame.
const quietSpan = 150 * time.Millisecond

// checkFrame reports why frame cannot be a desktop update, if it cannot.
func checkFrame(frame *image.RGBA) error {
	if frame == nil {
		return errors.New("nil frame")
	}
	r := frame.Rect
	w, h := r.Dx(), r.Dy()
	switch {
	case r.Min != image.Point{}:
		return fmt.Errorf("frame bounds %v do not start at 0,0", r)
	case w < 1 || h < 1 || w > wire.MaxDimension || h > wire.MaxDimension:
		return fmt.Errorf("frame size %dx%d outside 1..%d", w, h, wire.MaxDimension)
	case frame.Stride < 4*w || len(frame.Pix) < (h-1)*frame.Stride+4*w:
		return fmt.Errorf("frame of %d bytes with stride %d for %dx%d", len(frame.Pix), frame.Stride, w, h)
	}
	return nil
}

// resize makes a new framebuffer and tile set of frame's size holding frame; p.mu is held.
func (p *Pipeline) resize(frame *image.RGBA, now time.Time) {
	w, h := frame.Rect.Dx(), frame.Rect.Dy()
	ts := p.cfg.TileSize
	p.fb = image.NewRGBA(frame.Rect)
	p.gen++
	p.cols, p.rows = (w+ts-1)/ts, (h+ts-1)/ts
	p.tiles = make([]*tile, 0, p.cols*p.rows)
	for y := 0; y < h; y += ts {
		for x := 0; x < w; x += ts {
			r := image.Rect(x, y, min(x+ts, w), min(y+ts, h))
			p.copyTile(frame, r)
			p.tiles = append(p.tiles, &tile{rect: r, gen: p.gen, version: 1, changed: now})
		}
	}
	p.versions += uint64(len(p.tiles))
}

// damaged returns the tiles that the damage rectangles touch, each once; p.mu is held.
func (p *Pipeline) damaged(damage []image.Rectangle) []*tile {
	ts := p.cfg.TileSize
	seen := make([]bool, len(p.tiles))
	var out []*tile
	for _, d := range damage {
		d = d.Intersect(p.fb.Rect)
		if d.Empty() {
			continue
		}
		for ty := d.Min.Y / ts; ty <= (d.Max.Y-1)/ts; ty++ {
			for tx := d.Min.X / ts; tx <= (d.Max.X-1)/ts; tx++ {
				i := ty*p.cols + tx
				if !seen[i] {
					seen[i] = true
					out = append(out, p.tiles[i])
				}
			}
		}
	}
	return out
}

// copyTile copies the rectangle r of frame into the framebuffer, as opaque pixels, and reports
// whether any pixel changed; p.mu is held.
func (p *Pipeline) copyTile(frame *image.RGBA, r image.Rectangle) bool {
	var changed bool
	n := 4 * r.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		src := frame.Pix[frame.PixOffset(r.Min.X, y):][:n]
		dst := p.fb.Pix[p.fb.PixOffset(r.Min.X, y):][:n]
		if copyRow(dst, src) {
			changed = true
		}
	}
	return changed
}

// copyRow copies the colours of the pixels of src to dst, leaving dst opaque, and reports
// whether any colour changed. A desktop is opaque: sources such as VNC leave alpha undefined.
func copyRow(dst, src []byte) bool {
	if bytes.Equal(dst, src) {
		return false
	}
	// Two pixels at a time, alpha forced to 0xff: RGBA bytes read little-endian put alpha in
	// each pixel's top byte.
	const opaque2, opaque1 = 0xff000000ff000000, 0xff000000
	var changed bool
	i := 0
	for ; i+8 <= len(src); i += 8 {
		if v := binary.LittleEndian.Uint64(src[i:]) | opaque2; binary.LittleEndian.Uint64(dst[i:]) != v {
			binary.LittleEndian.PutUint64(dst[i:], v)
			changed = true
		}
	}
	for ; i+4 <= len(src); i += 4 {
		if v := binary.LittleEndian.Uint32(src[i:]) | opaque1; binary.LittleEndian.Uint32(dst[i:]) != v {
			binary.LittleEndian.PutUint32(dst[i:], v)
			changed = true
		}
	}
	return changed
}
