package main

import (
	"encoding/base64"
	"fmt"
	"image"
	"strings"
	"testing"

	"peerdesk/internal/cvpx"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
)

// videoJS drives the page's own Display: SIZE, the VIDEO messages of three frames (base64,
// in %s), FRAME; it returns the canvas pixels of every 8th pixel of the region's rows and
// columns, and one outside it, as [r, g, b] lists.
const videoJS = `(async () => {
  const { Display } = await import('/display.js');
  const p = await import('/protocol.js');
  const box = document.createElement('div');
  box.style.cssText = 'width: 192px; height: 128px';
  document.body.append(box);
  const canvas = document.createElement('canvas');
  box.append(canvas);
  const d = new Display(canvas, { onCursor() {} });
  const apply = (bytes) => new Promise((done) => d.push(bytes.buffer, done));
  await apply(p.encodeSize(192, 128));
  for (const m of %s) await apply(Uint8Array.from(atob(m), (c) => c.charCodeAt(0)));
  await apply(p.encodeFrame(1));
  const ctx = canvas.getContext('2d');
  const px = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
  const out = [];
  for (let y = 16; y < 112; y += 8) for (let x = 32; x < 160; x += 8) out.push(px(x, y));
  out.push(px(170, 120));
  box.remove();
  return { pixels: out, frames: canvas.dataset.videoFrames };
})()`

// videoPixel is the colour of the test film's frame n at x, y of its region.
func videoPixel(n, x, y int) [3]int { return [3]int{(2*x + 20*n) % 256, 2 * y, 255 - x} }

// TestBrowserVideo: Chromium decodes VIDEO messages with WebCodecs and draws them over their
// region, within 33 dB of the film (a keyframe, then two deltas), and a live session whose
// desktop plays a film gets its video region as video frames.
func TestBrowserVideo(t *testing.T) {
	enc, err := cvpx.NewEncoder(cvpx.EncoderConfig{Width: 128, Height: 96, Kbps: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var msgs []string
	for n := range 3 {
		img := image.NewRGBA(image.Rect(0, 0, 128, 96))
		for y := range 96 {
			for x := range 128 {
				c := videoPixel(n, x, y)
				i := img.PixOffset(x, y)
				img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = byte(c[0]), byte(c[1]), byte(c[2]), 255
			}
		}
		f, err := enc.Encode(img.Pix, img.Stride, int64(40*n), false)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := wire.EncodeVideo(wire.Video{X: 32, Y: 16, W: 128, H: 96, Frame: uint32(n), Key: f.Key, Layer: f.Layer}, f.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range parts {
			msgs = append(msgs, fmt.Sprintf("%q", base64.StdEncoding.EncodeToString(m)))
		}
	}
	h := newHarness(t, harnessConfig{demo: demo.Config{Width: 640, Height: 360, FPS: 25, Busy: 60}})
	d := startDriver(t)
	d.do(map[string]any{"cmd": "open", "url": h.url})
	r := d.do(map[string]any{"cmd": "eval", "js": fmt.Sprintf(videoJS, "["+strings.Join(msgs, ",")+"]")})
	var got struct {
		Pixels [][3]int
		Frames string
	}
	unmarshal(t, r["value"], &got)
	if got.Frames != "3" || len(got.Pixels) != 12*16+1 {
		t.Fatalf("the page drew %s video frames, %d pixels", got.Frames, len(got.Pixels))
	}
	var se float64
	for i, p := range got.Pixels[:12*16] {
		want := videoPixel(2, 8*(i%16), 8*(i/16))
		for c := range 3 {
			e := float64(p[c] - want[c])
			se += e * e
		}
	}
	if mse := se / (12 * 16 * 3); mse > 33 { // PSNR ≥ 33 dB
		t.Errorf("the page's video pixels: mean squared error %.1f from the film", mse)
	}
	if out := got.Pixels[12*16]; out != [3]int{0, 0, 0} {
		t.Errorf("outside the region: %v, want black", out)
	}

	// A live session: the demo's busy band is a film the page gets as video.
	d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	d.do(map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 20000})
	r = d.do(map[string]any{"cmd": "eval", "js": `new Promise((done, fail) => {
	  const c = document.getElementById('desktop');
	  const t0 = Date.now();
	  const poll = () => Number(c.dataset.videoFrames) >= 10 ? done(c.dataset.videoFrames)
	    : Date.now() - t0 > 30000 ? fail(new Error('video frames: ' + c.dataset.videoFrames)) : setTimeout(poll, 50);
	  poll();
	})`})
	t.Logf("the page drew %v video frames", r["value"])
	if r := d.do(map[string]any{"cmd": "eval", "js": "document.getElementById('notice').textContent"}); strings.Contains(fmt.Sprint(r["value"]), "cannot decode video") {
		t.Errorf("the page on localhost says %q", r["value"])
	}
	if st := h.agent.Stats().Pipeline; st.VideoRegions == 0 || st.VideoFrames < 10 {
		t.Errorf("the agent's pipeline: %d video regions, %d frames", st.VideoRegions, st.VideoFrames)
	}
}
