package pipeline

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"image"
	"slices"
)

// Scroll detection, for sources that do not report their copies (a terminal scrolling faster
// than the VNC server tracks, a browser page): a large damaged rectangle whose new rows are,
// for the most part, its old rows shifted up or down becomes a copy of the shifted band, and
// only what the shift does not explain goes out as tiles. x11vnc's scroll detection is the
// prior art; this one compares row hashes, and the copy is checked like any other (a tile
// whose pixels the frame contradicts is sent all the same).

const (
	// minScrollWidth and minScrollHeight are the smallest damaged rectangle searched.
	minScrollWidth, minScrollHeight = 256, 128
	// maxScrollRects is the most damaged rectangles one update searches, the largest first.
	maxScrollRects = 4
	// minScrollRows is the shortest band of shifted rows worth a copy.
	minScrollRows = 32
	// maxRowMatches is the most old rows a row's content may stand in and still vote.
	maxRowMatches = 4
	// maxClustered is the most damaged rectangles clustered; beyond it only their bounds are
	// searched.
	maxClustered = 256
	// scrollSample is the step of the first, sampled vote.
	scrollSample = 8
)

// scrollDetector keeps the scratch of the search between updates; p.mu guards it.
type scrollDetector struct {
	seed     maphash.Seed
	row      []byte         // a frame row, made opaque
	old, new []uint64       // row hashes of the rectangle before and after (see hashRows)
	at       map[uint64]int // the last old row of each hash, +1
	prev     []int          // prev[y]: the old row before y with the same hash, +1; 0 for none
	votes    map[int]int    // rows by the shift they support
}

// detectScrolls returns the copies that explain the damage of frame as shifted rows of p.fb;
// p.mu is held.
func (p *Pipeline) detectScrolls(frame *image.RGBA, damage []image.Rectangle) []pendingCopy {
	d := &p.scroll
	if d.at == nil {
		d.seed, d.at, d.votes = maphash.MakeSeed(), make(map[uint64]int), make(map[int]int)
	}
	var out []pendingCopy
	var cands []image.Rectangle
	if len(damage) <= maxClustered {
		cands = largest(clusters(damage, p.cfg.TileSize), maxScrollRects)
	}
	if len(cands) != 1 { // and all of it: a VNC server that sends only changed pixels reports
		// text that scrolled as strips far apart (the columns where lines differ)
		var all image.Rectangle
		for _, r := range damage {
			all = all.Union(r)
		}
		cands = append([]image.Rectangle{all}, cands...)
	}
	for _, r := range cands {
		r = r.Intersect(p.fb.Rect)
		if r.Dx() < minScrollWidth || r.Dy() < minScrollHeight {
			continue
		}
		if c, ok := d.detect(p.fb, frame, r); ok {
			out = append(out, c)
			if len(out) == 1 && r == cands[0] && len(cands) > 1 {
				break // the whole damage scrolled: its parts hold no other scroll
			}
		}
	}
	return out
}

// clusters merges the rectangles that lie within gap of each other into their bounds: a VNC
// server that sends only changed pixels reports a scrolling terminal as many narrow strips.
func clusters(rs []image.Rectangle, gap int) []image.Rectangle {
	out := make([]image.Rectangle, 0, len(rs))
	for _, r := range rs {
		if r.Empty() {
			continue
		}
		for merged := true; merged; {
			merged = false
			for i := 0; i < len(out); i++ {
				if out[i].Inset(-gap).Overlaps(r) {
					r = r.Union(out[i])
					out[i] = out[len(out)-1]
					out = out[:len(out)-1]
					merged = true
					break
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// largest returns up to n of the rectangles, the largest first.
func largest(rs []image.Rectangle, n int) []image.Rectangle {
	out := make([]image.Rectangle, 0, n)
	for _, r := range rs {
		out = append(out, r)
		for i := len(out) - 1; i > 0 && area(out[i]) > area(out[i-1]); i-- {
			out[i], out[i-1] = out[i-1], out[i]
		}
		if len(out) > n {
			out = out[:n]
		}
	}
	return out
}

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

// detect finds the vertical shift that most rows of r in frame have against old, and the
// longest band of rows it explains. It votes with every scrollSample-th row first, so that an
// update that is no scroll (a video, new text everywhere) costs little more than hashing the
// old rows.
func (d *scrollDetector) detect(old, frame *image.RGBA, r image.Rectangle) (pendingCopy, bool) {
	h := r.Dy()
	d.old = d.hashRows(d.old[:0], old, r, true)
	clear(d.at)
	d.prev = slices.Grow(d.prev[:0], h)[:h]
	clear(d.prev)
	for y, v := range d.old {
		if v&1 != 0 { // rows of one colour match anywhere: no vote
			d.prev[y] = d.at[v]
			d.at[v] = y + 1
		}
	}
	d.new = d.new[:0]
	for y := 0; y < h; y += scrollSample {
		d.new = d.hashRows(d.new, frame, image.Rect(r.Min.X, r.Min.Y+y, r.Max.X, r.Min.Y+y+1), false)
	}
	if _, ok := d.vote(d.new, scrollSample); !ok {
		return pendingCopy{}, false
	}
	d.new = d.hashRows(d.new[:0], frame, r, false)
	dy, ok := d.vote(d.new, 1)
	if !ok {
		return pendingCopy{}, false
	}
	// The longest run of rows y whose new content is the old row y+dy.
	runStart, bestStart, bestLen := -1, 0, 0
	for y := range h + 1 {
		ok := y < h && y+dy >= 0 && y+dy < h && d.new[y] == d.old[y+dy]
		if ok && runStart < 0 {
			runStart = y
		}
		if !ok && runStart >= 0 {
			if y-runStart > bestLen {
				bestStart, bestLen = runStart, y-runStart
			}
			runStart = -1
		}
	}
	if bestLen < minScrollRows {
		return pendingCopy{}, false
	}
	src := image.Rect(r.Min.X, r.Min.Y+bestStart+dy, r.Max.X, r.Min.Y+bestStart+dy+bestLen)
	return pendingCopy{src: src, dst: image.Pt(r.Min.X, r.Min.Y+bestStart)}, true
}

// vote returns the shift that the most changed rows of hashes (the new rows every step-th)
// have against the old rows, if enough of them agree: rows whose content stands in more than
// maxRowMatches old rows are ambiguous and do not vote.
func (d *scrollDetector) vote(hashes []uint64, step int) (int, bool) {
	clear(d.votes)
	changed := 0
	for i, v := range hashes {
		y := i * step
		if v == d.old[y] {
			continue // unchanged: no evidence of a shift
		}
		changed++
		n := 0
		for f := d.at[v]; f != 0 && n <= maxRowMatches; f = d.prev[f-1] {
			n++
		}
		if n <= maxRowMatches {
			for f := d.at[v]; f != 0; f = d.prev[f-1] {
				d.votes[f-1-y]++
			}
		}
	}
	dy, best := 0, 0
	for s, n := range d.votes {
		if s != 0 && (n > best || n == best && abs(s) < abs(dy)) {
			dy, best = s, n
		}
	}
	return dy, dy != 0 && best*step >= minScrollRows/2 && best*4 >= changed
}

// hashRows appends the hash of every row of r in img to dst, alpha ignored: odd for a row of
// several colours, the colour shifted left for a row of one. opaque says img's alpha is
// already 0xff everywhere (the pipeline's framebuffer), which spares a copy.
func (d *scrollDetector) hashRows(dst []uint64, img *image.RGBA, r image.Rectangle, opaque bool) []uint64 {
	n := 4 * r.Dx()
	if cap(d.row) < n {
		d.row = make([]byte, n)
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):][:n]
		if !opaque {
			row = opaqueRow(d.row[:n], row)
		}
		if bytes.Equal(row[4:], row[:n-4]) { // every pixel the same as the next
			dst = append(dst, uint64(binary.LittleEndian.Uint32(row))<<1)
			continue
		}
		dst = append(dst, maphash.Bytes(d.seed, row)|1)
	}
	return dst
}

// opaqueRow copies the pixels of src to dst with alpha 0xff and returns dst.
func opaqueRow(dst, src []byte) []byte {
	const opaque2, opaque1 = 0xff000000ff000000, 0xff000000
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])|opaque2)
	}
	for ; i+4 <= len(src); i += 4 {
		binary.LittleEndian.PutUint32(dst[i:], binary.LittleEndian.Uint32(src[i:])|opaque1)
	}
	return dst
}

func abs(n int) int { return max(n, -n) }
