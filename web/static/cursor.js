// The desktop's pointer shape (docs/PROTOCOL.md, display 0x04 CURSOR), drawn as an image
// that follows the local pointer over the desktop canvas, with its hotspot at the pointer
// and scaled as the canvas is. The canvas itself is never redrawn for it.

/**
 * CursorView shows cursor shapes on img (an absolutely positioned element the page does not
 * otherwise use) while the pointer is over display's canvas, hiding the browser's own
 * pointer there. Without a shape (none yet, or a 0×0 one) the browser's pointer shows. img
 * carries data-width, data-height, data-hot-x and data-hot-y of the current shape.
 */
export class CursorView {
  constructor(display, img) {
    this.display = display;
    this.canvas = display.canvas;
    this.img = img;
    this.shape = null; // {hotX, hotY, width, height} once one is loaded
    this.url = '';
    this.version = 0; // a newer set() wins over an older one still decoding
    this.at = null; // the pointer's client coordinates while over the canvas
    this.listeners = [
      [this.canvas, 'pointermove', (e) => this.move(e)],
      [this.canvas, 'pointerenter', (e) => this.move(e)],
      [this.canvas, 'pointerleave', () => this.leave()],
    ];
    for (const [target, type, fn] of this.listeners) target.addEventListener(type, fn);
    this.clear();
  }

  /**
   * Takes a decoded CURSOR message: {hotX, hotY, width, height, data}. A PNG that does not
   * decode to width × height is logged and skipped, keeping the previous shape.
   */
  async set(msg) {
    const version = ++this.version;
    if (msg.width === 0) {
      this.clear();
      return;
    }
    const url = URL.createObjectURL(new Blob([msg.data], { type: 'image/png' }));
    const probe = new Image();
    probe.src = url;
    try {
      await probe.decode();
    } catch {
      URL.revokeObjectURL(url);
      if (version === this.version) console.warn('peerdesk: cursor image does not decode');
      return;
    }
    if (version !== this.version) {
      URL.revokeObjectURL(url);
      return;
    }
    if (probe.naturalWidth !== msg.width || probe.naturalHeight !== msg.height) {
      URL.revokeObjectURL(url);
      console.warn(`peerdesk: cursor image is ${probe.naturalWidth}x${probe.naturalHeight}, want ${msg.width}x${msg.height}`);
      return;
    }
    this.release();
    this.url = url;
    this.img.src = url;
    this.shape = { hotX: msg.hotX, hotY: msg.hotY, width: msg.width, height: msg.height };
    this.mark(this.shape);
    this.canvas.classList.add('remote-cursor');
    this.place();
  }

  /** Stops following the pointer and forgets the shape. */
  close() {
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    this.listeners = [];
    this.version++;
    this.clear();
  }

  clear() {
    this.release();
    this.shape = null;
    this.img.removeAttribute('src');
    this.img.hidden = true;
    this.mark({ hotX: 0, hotY: 0, width: 0, height: 0 });
    this.canvas.classList.remove('remote-cursor');
  }

  release() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = '';
  }

  mark(s) {
    Object.assign(this.img.dataset, { width: s.width, height: s.height, hotX: s.hotX, hotY: s.hotY });
  }

  move(e) {
    this.at = { x: e.clientX, y: e.clientY };
    this.place();
  }

  leave() {
    this.at = null;
    this.img.hidden = true;
  }

  // Puts the image's hotspot at the pointer, at the canvas's scale.
  place() {
    const s = this.shape;
    const r = this.canvas.getBoundingClientRect();
    if (!s || !this.at || this.display.width === 0 || r.width === 0) {
      this.img.hidden = true;
      return;
    }
    const scale = r.width / this.display.width;
    this.img.style.width = `${s.width * scale}px`;
    this.img.style.height = `${s.height * scale}px`;
    this.img.style.transform = `translate(${this.at.x - s.hotX * scale}px, ${this.at.y - s.hotY * scale}px)`;
    this.img.hidden = false;
  }
}
