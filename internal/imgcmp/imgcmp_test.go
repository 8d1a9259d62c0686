package imgcmp

import (
	"image"
	"math"
	"testing"
)

func TestPSNRAndSSIM(t *testing.T) {
	a, b := image.NewRGBA(image.Rect(0, 0, 16, 16)), image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range a.Pix {
		a.Pix[i], b.Pix[i] = byte(i*7), byte(i*7)
	}
	r := a.Rect
	if p, s := PSNR(a, b, r), SSIM(a, b, r); !math.IsInf(p, 1) || math.Abs(s-1) > 1e-9 {
		t.Fatalf("equal images: PSNR %v, SSIM %v", p, s)
	}
	for i := 0; i < len(b.Pix); i += 4 {
		b.Pix[i] ^= 4 // red off by 4 everywhere
	}
	if p := PSNR(a, b, r); math.Abs(p-(10*math.Log10(255*255*3/16.0))) > 1e-9 {
		t.Errorf("red off by 4: PSNR %v", p)
	}
	if s := SSIM(a, b, r); s >= 1 || s < 0.9 {
		t.Errorf("red off by 4: SSIM %v", s)
	}
	if PSNR(a, b, image.Rect(0, 0, 17, 17)) != 0 || SSIM(a, b, image.Rect(8, 8, 20, 20)) != 0 {
		t.Error("a region outside the images")
	}
}
