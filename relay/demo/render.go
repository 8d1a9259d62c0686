package demo

import (
	"image"
	"image/color"
)

// render draws the part clip of the scene into dst; d.mu is held.
func (d *Desktop) render(dst *image.RGBA, clip image.Rectangle) {
	clip = clip.Intersect(d.bounds)
	// The band spans the whole width: only the rows above and below it need the background.
	if band := clip.Intersect(d.band); band.Empty() {
		fill(dst, clip, background)
	} else {
		fill(dst, image.Rect(clip.Min.X, clip.Min.Y, clip.Max.X, band.Min.Y), background)
		fill(dst, image.Rect(clip.Min.X, band.Max.Y, clip.Max.X, clip.Max.Y), background)
	}
	w := d.bounds.Dx()
	r := clip.Intersect(d.bars)
	for x := r.Min.X; x < r.Max.X; x++ {
		fill(dst, image.Rect(x, r.Min.Y, x+1, r.Max.Y), barColors[((x+d.barShift)%w)*len(barColors)/w])
	}
	r = clip.Intersect(d.band)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := dst.Pix[dst.PixOffset(r.Min.X, y):][:4*r.Dx()]
		g := uint8(2*y + d.phase/2)
		for i, x := 0, r.Min.X; i < len(row); i, x = i+4, x+1 {
			row[i], row[i+1], row[i+2], row[i+3] = uint8(x+d.phase), g, uint8((x+y)/2), 0xff
		}
		if d.grain != nil {
			off := y*1031 + d.phase*7919 + r.Min.X
			for i := 0; i < len(row); i += 4 {
				n := d.grain[(off+i/4)&(grainSize-1)]
				row[i], row[i+1], row[i+2] = row[i]+n, row[i+1]+n, row[i+2]+n
			}
		}
	}
	fill(dst, clip.Intersect(d.box), boxColor)
	drawMask(dst, clip, d.clockAt, d.clock, clockScale, foreground)
	for i, m := range d.lineMasks {
		drawMask(dst, clip, d.textAt.Add(image.Pt(0, i*glyphHeight*textScale)), m, textScale, foreground)
	}
	r = clip.Intersect(d.painted)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if d.paint[y*w+x] {
				dst.SetRGBA(x, y, PaintColor)
			}
		}
	}
	if d.pointerShown {
		p := d.pointer
		fill(dst, clip.Intersect(image.Rect(p.X-crossArm, p.Y, p.X+crossArm+1, p.Y+1)), foreground)
		fill(dst, clip.Intersect(image.Rect(p.X, p.Y-crossArm, p.X+1, p.Y+crossArm+1)), foreground)
	}
}

// fill paints r of dst with c; r lies inside dst.
func fill(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := dst.Pix[dst.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for i := 0; i < len(row); i += 4 {
			row[i], row[i+1], row[i+2], row[i+3] = c.R, c.G, c.B, c.A
		}
	}
}
