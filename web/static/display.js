// The desktop framebuffer: applies display-channel messages (docs/PROTOCOL.md, section 3.2)
// strictly in arrival order to a back buffer, presents it on the visible canvas at every
// FRAME, so that nobody sees half an update, and scales the canvas to fit its container.

import { COPY, CURSOR, decodeDisplay, FORMAT_FILL, FRAME, SIZE, TILES, VIDEO } from './protocol.js';
import { OrderedQueue } from './queue.js';
import { VideoPlayer } from './video.js';

/**
 * Most bytes of display messages waiting to be applied. A page that falls this far behind
 * drops its backlog and asks for a fresh full frame (Session.resync).
 */
export const MAX_BACKLOG_BYTES = 32 * 1024 * 1024;

/**
 * Display draws display messages on a back buffer and presents what changed on a canvas
 * whose width and height attributes are the desktop size at every FRAME; CSS scales it to fit
 * its parent element, keeping the aspect ratio. The canvas carries data-width, data-height
 * data-frames (FRAME messages applied) and data-video-frames (video frames drawn). CURSOR
 * messages go, decoded, to onCursor.
 */
export class Display {
  constructor(canvas, { onCursor }) {
    this.canvas = canvas;
    this.onCursor = onCursor;
    this.front = canvas.getContext('2d');
    this.back = new OffscreenCanvas(1, 1);
    this.ctx = this.back.getContext('2d'); // where messages draw
    this.dirty = null; // {x0, y0, x1, y1} drawn since the last FRAME, or null
    this.width = 0;
    this.height = 0;
    this.frames = 0;
    this.video = new VideoPlayer();
    this.videoFrames = 0;
    // Messages are applied one after the other: decoding tiles is async, and a later message
    // must never overtake an earlier one.
    this.queue = new OrderedQueue(MAX_BACKLOG_BYTES);
    this.closed = false;
    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(canvas.parentElement);
    // The canvas may have shown an earlier session: start blank, hidden until SIZE.
    canvas.width = 1;
    canvas.height = 1;
    canvas.style.width = '';
    canvas.style.height = '';
    canvas.dataset.frames = '0';
    canvas.dataset.videoFrames = '0';
    canvas.dataset.width = '0';
    canvas.dataset.height = '0';
  }

  /**
   * Queues one display message (an ArrayBuffer); malformed ones are logged and skipped.
   * onApplied(bytes), if given, is called once it was applied or skipped. Returns false,
   * queuing nothing, when the backlog is full: the caller then drops the backlog and
   * resynchronises.
   */
  push(buffer, onApplied) {
    const bytes = new Uint8Array(buffer);
    return this.queue.add(bytes.length, async () => {
      if (this.closed) return;
      try {
        await this.apply(bytes);
      } catch (err) {
        console.warn('peerdesk: display message skipped:', err.message);
      }
      onApplied?.(bytes);
    });
  }

  /** Forgets the messages not yet applied; the next stream starts with SIZE and every tile. */
  dropBacklog() {
    this.queue.drop();
  }

  /** Stops applying queued messages and stops following the container's size. */
  close() {
    this.closed = true;
    this.video.close();
    this.resizeObserver.disconnect();
  }

  async apply(bytes) {
    const msg = decodeDisplay(bytes, this.width, this.height);
    switch (msg.type) {
      case SIZE:
        this.resize(msg.width, msg.height);
        break;
      case TILES:
        await this.drawTiles(msg.tiles);
        break;
      case FRAME:
        this.present();
        this.frames++;
        this.canvas.dataset.frames = String(this.frames);
        break;
      case CURSOR:
        this.onCursor(msg);
        break;
      case COPY:
        // A canvas drawn onto itself is copied first: overlapping rectangles come out right.
        this.ctx.drawImage(this.back, msg.srcX, msg.srcY, msg.width, msg.height, msg.dstX, msg.dstY, msg.width, msg.height);
        this.touch(msg.dstX, msg.dstY, msg.width, msg.height);
        break;
      case VIDEO:
        await this.drawVideo(msg);
        break;
    }
  }

  // Draws a video frame over its region once its last part came. After MAX_VIDEO_FAILURES
  // frames in a row that did not decode, onVideoBroken (set by the peer link) tells the relay
  // to send tiles instead.
  async drawVideo(msg) {
    let frame;
    try {
      frame = await this.video.apply(msg);
    } catch (err) {
      if (this.video.broken() && !this.videoOff) {
        this.videoOff = true;
        this.onVideoBroken?.();
      }
      throw err;
    }
    if (frame === null) return;
    if (!this.closed) {
      this.ctx.drawImage(frame, msg.x, msg.y, msg.width, msg.height);
      this.touch(msg.x, msg.y, msg.width, msg.height);
      this.videoFrames++;
      this.canvas.dataset.videoFrames = String(this.videoFrames);
    }
    frame.close();
  }

  resize(width, height) {
    this.video.close();
    this.width = width;
    this.height = height;
    this.canvas.width = width;
    this.canvas.height = height;
    this.back.width = width;
    this.back.height = height;
    this.dirty = null;
    for (const ctx of [this.front, this.ctx]) {
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, width, height);
    }
    this.canvas.dataset.width = String(width);
    this.canvas.dataset.height = String(height);
    this.fit();
  }

  // Decodes all tiles of one message in parallel and draws them in their order; fills need
  // no decoding.
  async drawTiles(tiles) {
    const results = await Promise.allSettled(
      tiles.map((t) => (t.format === FORMAT_FILL ? null : createImageBitmap(new Blob([t.data], { type: t.mime })))),
    );
    results.forEach((r, i) => {
      const t = tiles[i];
      if (t.format === FORMAT_FILL) {
        if (this.closed) return;
        this.ctx.fillStyle = `rgb(${t.data[0]}, ${t.data[1]}, ${t.data[2]})`;
        this.ctx.fillRect(t.x, t.y, t.width, t.height);
        this.touch(t.x, t.y, t.width, t.height);
        return;
      }
      if (r.status === 'rejected') {
        console.warn(`peerdesk: tile at ${t.x},${t.y} does not decode:`, r.reason?.message ?? r.reason);
        return;
      }
      const bmp = r.value;
      if (this.closed) {
        bmp.close();
        return;
      }
      if (bmp.width !== t.width || bmp.height !== t.height) {
        console.warn(`peerdesk: tile at ${t.x},${t.y} is ${bmp.width}x${bmp.height}, want ${t.width}x${t.height}`);
      } else {
        this.ctx.drawImage(bmp, t.x, t.y);
        this.touch(t.x, t.y, t.width, t.height);
      }
      bmp.close();
    });
  }

  // Marks a rectangle of the back buffer as changed since the last FRAME.
  touch(x, y, w, h) {
    const d = this.dirty;
    this.dirty = d
      ? { x0: Math.min(d.x0, x), y0: Math.min(d.y0, y), x1: Math.max(d.x1, x + w), y1: Math.max(d.y1, y + h) }
      : { x0: x, y0: y, x1: x + w, y1: y + h };
  }

  // Copies what changed since the last FRAME to the visible canvas.
  present() {
    const d = this.dirty;
    if (!d) return;
    this.dirty = null;
    const w = d.x1 - d.x0;
    const h = d.y1 - d.y0;
    this.front.drawImage(this.back, d.x0, d.y0, w, h, d.x0, d.y0, w, h);
  }

  // Sizes the canvas element to the largest box of the desktop's aspect ratio that fits
  // its container, so its bounding rectangle maps 1:1 onto the drawing.
  fit() {
    if (this.width === 0) return;
    const box = this.canvas.parentElement;
    const scale = Math.min(box.clientWidth / this.width, box.clientHeight / this.height);
    if (!(scale > 0)) return;
    this.canvas.style.width = `${Math.floor(this.width * scale)}px`;
    this.canvas.style.height = `${Math.floor(this.height * scale)}px`;
  }

  /** Maps client coordinates to desktop pixels, clamped to the desktop; null before SIZE. */
  toDesktop(clientX, clientY) {
    if (this.width === 0) return null;
    const r = this.canvas.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    const clamp = (v, max) => Math.min(Math.max(Math.floor(v), 0), max - 1);
    return {
      x: clamp(((clientX - r.left) * this.width) / r.width, this.width),
      y: clamp(((clientY - r.top) * this.height) / r.height, this.height),
    };
  }
}
