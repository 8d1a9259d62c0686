// Package imgcmp measures how close two images are, for the tests and benchmarks of lossy
// encodings (video, JPEG): PSNR over the RGB channels and SSIM over BT.601 luma.
package imgcmp

import (
	"image"
	"math"
)

// PSNR returns the peak signal-to-noise ratio of the RGB channels of region r of b against a,
// in dB (+Inf for equal pixels; 0 if r is not inside both).
func PSNR(a, b *image.RGBA, r image.Rectangle) float64 {
	if a == nil || b == nil || r.Empty() || !r.In(a.Rect) || !r.In(b.Rect) {
		return 0
	}
	var se float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		pa, pb := a.Pix[a.PixOffset(r.Min.X, y):][:4*r.Dx()], b.Pix[b.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for i := range pa {
			if i%4 != 3 {
				d := float64(pa[i]) - float64(pb[i])
				se += d * d
			}
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255*float64(3*r.Dx()*r.Dy())/se)
}

// SSIM returns the mean structural similarity of the luma (BT.601) of region r of b against
// a, over 8×8 windows (0 if r is not inside both or smaller than a window).
func SSIM(a, b *image.RGBA, r image.Rectangle) float64 {
	if a == nil || b == nil || !r.In(a.Rect) || !r.In(b.Rect) {
		return 0
	}
	const c1, c2 = 6.5025, 58.5225 // (0.01·255)², (0.03·255)²
	luma := func(img *image.RGBA, x, y int) float64 {
		p := img.Pix[img.PixOffset(x, y):]
		return 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
	}
	var sum float64
	n := 0
	for by := r.Min.Y; by+8 <= r.Max.Y; by += 8 {
		for bx := r.Min.X; bx+8 <= r.Max.X; bx += 8 {
			var ma, mb, va, vb, cov float64
			for y := by; y < by+8; y++ {
				for x := bx; x < bx+8; x++ {
					ya, yb := luma(a, x, y), luma(b, x, y)
					ma, mb, va, vb, cov = ma+ya, mb+yb, va+ya*ya, vb+yb*yb, cov+ya*yb
				}
			}
			ma, mb = ma/64, mb/64
			va, vb, cov = va/64-ma*ma, vb/64-mb*mb, cov/64-ma*mb
			sum += (2*ma*mb + c1) * (2*cov + c2) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
