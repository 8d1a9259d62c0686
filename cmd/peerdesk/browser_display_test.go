package main

import (
	"fmt"
	"testing"

	"peerdesk/relay/demo"
)

// presentJS drives the page's own Display on a canvas of its own: a red fill, then a COPY of a
// black corner onto it, then FRAME. It returns the canvas pixel at 44,24 after each step.
const presentJS = `(async () => {
  const { Display } = await import('/display.js');
  const p = await import('/protocol.js');
  const box = document.createElement('div');
  box.style.cssText = 'width: 200px; height: 100px';
  document.body.append(box);
  const canvas = document.createElement('canvas');
  box.append(canvas);
  const d = new Display(canvas, { onCursor() {} });
  const apply = (bytes) => new Promise((done) => d.push(bytes.buffer, done));
  const pixel = () => Array.from(canvas.getContext('2d').getImageData(44, 24, 1, 1).data.slice(0, 3)).join(',');
  const seen = [];
  await apply(p.encodeSize(64, 32));
  await apply(p.encodeTiles([{ x: 8, y: 0, width: 56, height: 32, format: p.FORMAT_FILL, data: new Uint8Array([200, 10, 20]) }]));
  seen.push(pixel());
  await apply(p.encodeFrame(1));
  seen.push(pixel());
  await apply(p.encodeCopy({ srcX: 0, srcY: 0, width: 8, height: 8, dstX: 40, dstY: 20 }));
  seen.push(pixel());
  await apply(p.encodeFrame(2));
  seen.push(pixel());
  box.remove();
  return seen.join(' ');
})()`

// TestBrowserDisplayPresentsOnFrame: the page shows what the display messages drew only at
// the FRAME that ends them, COPY included: nobody sees half an update.
func TestBrowserDisplayPresentsOnFrame(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true, Width: 64, Height: 64}})
	d := startDriver(t)
	d.do(map[string]any{"cmd": "open", "url": h.url})
	r := d.do(map[string]any{"cmd": "eval", "js": presentJS})
	const black, red = "0,0,0", "200,10,20"
	if want := fmt.Sprintf("%s %s %s %s", black, red, red, black); r["value"] != want {
		t.Fatalf("pixel after fill, FRAME, COPY, FRAME: %v, want %s", r["value"], want)
	}
}
