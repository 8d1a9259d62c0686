package demo

import (
	"image"
	"image/color"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The demo's one font: basicfont's 7×13 bitmap face, whose glyphs are either on or off.
var face = basicfont.Face7x13

const (
	glyphAdvance = 7
	glyphHeight  = 13
	glyphAscent  = 11
)

// textMask renders s at scale 1 into an alpha mask of glyphAdvance×glyphHeight pixels per
// rune; runes the face lacks show as its replacement glyph.
func textMask(s []rune) *image.Alpha {
	m := image.NewAlpha(image.Rect(0, 0, max(1, glyphAdvance*len(s)), glyphHeight))
	d := font.Drawer{Dst: m, Src: image.Opaque, Face: face, Dot: fixed.P(0, glyphAscent)}
	d.DrawString(string(s))
	return m
}

// drawMask paints colour c where mask, magnified scale times and placed at at, is set,
// touching only the pixels of dst inside clip.
func drawMask(dst *image.RGBA, clip image.Rectangle, at image.Point, mask *image.Alpha, scale int, c color.RGBA) {
	r := image.Rectangle{Min: at, Max: at.Add(mask.Rect.Size().Mul(scale))}.Intersect(clip)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if mask.Pix[mask.PixOffset((x-at.X)/scale, (y-at.Y)/scale)] >= 0x80 {
				dst.SetRGBA(x, y, c)
			}
		}
	}
}
