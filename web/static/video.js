// Video regions (docs/PROTOCOL.md, 3.2 VIDEO): gathers each VP8 frame's parts and decodes it
// with WebCodecs. WebCodecs exists only in a secure context (https, or http on localhost):
// a page without it announces no video support, and the relay sends such regions as tiles.

import { ProtocolError } from './protocol.js';

/** How long a frame may take to decode before the decoder counts as broken. */
const DECODE_TIMEOUT_MS = 2000;
/** Frames in a row that fail to decode before the page stops taking video (see Display). */
export const MAX_VIDEO_FAILURES = 3;

const VP8 = { codec: 'vp8', codedWidth: 640, codedHeight: 480 };

/** Reports whether this page has WebCodecs (a secure context with VideoDecoder). */
export function videoSupported() {
  return globalThis.isSecureContext === true && typeof globalThis.VideoDecoder === 'function';
}

/** Resolves to whether this page can decode VIDEO messages: WebCodecs, and VP8 in it. */
export async function videoDecodable() {
  if (!videoSupported()) return false;
  try {
    return (await VideoDecoder.isConfigSupported(VP8)).supported === true;
  } catch {
    return false;
  }
}

/**
 * VideoPlayer decodes the video of one region at a time. apply takes the VIDEO messages in
 * order and, when one completes a frame, resolves to a VideoFrame of the region (the caller
 * draws and closes it); otherwise to null. A frame it cannot decode rejects, and the player
 * then waits for the next keyframe.
 */
export class VideoPlayer {
  constructor() {
    this.decoder = null;
    this.region = ''; // "x,y,w,h" of the decoder
    this.synced = false; // the decoder holds what the next frame refers to
    this.parts = [];
    this.expect = -1; // the next part of the frame being gathered, -1 for none
    this.waiting = null; // {resolve, reject} of the frame being decoded
    this.failures = 0; // frames in a row that failed to decode
  }

  async apply(m) {
    const region = `${m.x},${m.y},${m.width},${m.height}`;
    if (m.part === 0) {
      if (m.key && (this.decoder === null || region !== this.region)) this.open(m, region);
      if (!m.key && (!this.synced || region !== this.region)) {
        this.expect = -1;
        throw new ProtocolError(`video frame ${m.frame} without its keyframe`);
      }
      this.frame = m.frame;
      this.key = m.key;
      this.count = m.parts;
      this.parts = [m.data];
      this.expect = 1;
    } else if (m.part !== this.expect || m.frame !== this.frame || m.parts !== this.count) {
      this.expect = -1;
      throw new ProtocolError(`video part ${m.part} of ${m.parts} of frame ${m.frame} out of order`);
    } else {
      this.parts.push(m.data);
      this.expect++;
    }
    if (this.expect < this.count) return null;
    this.expect = -1;
    return this.decode();
  }

  open(m, region) {
    this.close();
    this.region = region;
    // The callbacks of a decoder closed since must not touch its successor's frame.
    const decoder = new VideoDecoder({
      output: (frame) => {
        const w = this.decoder === decoder ? this.waiting : null;
        if (w) this.waiting = null;
        if (w) w.resolve(frame);
        else frame.close();
      },
      error: (err) => {
        if (this.decoder === decoder) this.fail(err);
      },
    });
    this.decoder = decoder;
    this.decoder.configure({
      codec: 'vp8',
      codedWidth: m.width,
      codedHeight: m.height,
      optimizeForLatency: true,
      // The relay converts with BT.601, limited range; without this Chromium assumes BT.709.
      colorSpace: { primaries: 'smpte170m', transfer: 'smpte170m', matrix: 'smpte170m', fullRange: false },
    });
  }

  async decode() {
    const size = this.parts.reduce((n, p) => n + p.length, 0);
    const data = new Uint8Array(size);
    let at = 0;
    for (const p of this.parts) {
      data.set(p, at);
      at += p.length;
    }
    this.parts = [];
    const decoded = new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
    const timer = setTimeout(() => this.fail(new Error('video frame not decoded in time')), DECODE_TIMEOUT_MS);
    try {
      this.decoder.decode(new EncodedVideoChunk({ type: this.key ? 'key' : 'delta', timestamp: this.frame * 40000, data }));
    } catch (err) {
      this.fail(err); // rejects decoded
    }
    try {
      const frame = await decoded;
      this.synced = true;
      this.failures = 0;
      return frame;
    } catch (err) {
      this.failures = (this.failures ?? 0) + 1;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reports whether MAX_VIDEO_FAILURES frames in a row failed to decode. */
  broken() {
    return (this.failures ?? 0) >= MAX_VIDEO_FAILURES;
  }

  // A broken decoder is dropped: the next keyframe makes a new one.
  fail(err) {
    const w = this.waiting;
    this.waiting = null;
    this.close();
    if (w) w.reject(err);
  }

  /** Forgets the video and its decoder (a SIZE, or the page leaving). */
  close() {
    if (this.decoder !== null && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
    this.region = '';
    this.synced = false;
    this.expect = -1;
  }
}
