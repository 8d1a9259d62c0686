// Binary wire formats of docs/PROTOCOL.md: the display and input channels (sections 3.2 and
// 3.3), with the limits every message shares (the JSON ones are in messages.js). Pure
// functions with no DOM access, so node can test them.
// Decoders throw a ProtocolError for anything malformed; callers skip that message.

/** Largest signaling frame or data-channel message either side accepts. */
export const MAX_MESSAGE = 64 * 1024;
/** Largest SDP in an offer or answer. */
export const MAX_SDP = 32 * 1024;
/** Bound on a desktop's width and height. */
export const MAX_DIMENSION = 8192;

/** Data channels: label and negotiated id (section 3). */
export const CHANNELS = Object.freeze([
  Object.freeze({ label: 'control', id: 0 }),
  Object.freeze({ label: 'display', id: 1 }),
  Object.freeze({ label: 'input', id: 2 }),
]);

/** Display message types (section 3.2). */
export const SIZE = 0x01;
export const TILES = 0x02;
export const FRAME = 0x03;
export const CURSOR = 0x04;
export const COPY = 0x05;
export const VIDEO = 0x06;

/** Bound on a cursor shape's width and height. */
export const MAX_CURSOR = 128;

/** Input message types (section 3.3). */
export const POINTER = 0x01;
export const WHEEL = 0x02;
export const KEY = 0x03;
export const CLIPBOARD = 0x04;
/** Where the peer points, for the others to see; never applied to the host. */
export const POINT_AT = 0x05;

/** Most bytes of UTF-8 text one clipboard message carries, either way. */
export const MAX_CLIPBOARD = 32 * 1024;

/** Tile formats, and the MIME types of those that carry an image. */
export const FORMAT_PNG = 1;
export const FORMAT_JPEG = 2;
/** A rectangle of one colour: its data is the red, green and blue bytes. */
export const FORMAT_FILL = 3;
/** A lossless WebP. */
export const FORMAT_WEBP = 4;
const FILL_SIZE = 3;
const MIME = { [FORMAT_PNG]: 'image/png', [FORMAT_JPEG]: 'image/jpeg', [FORMAT_FILL]: '', [FORMAT_WEBP]: 'image/webp' };

/** Pointer buttons on the wire: bit 0 left, bit 1 middle, bit 2 right. */
export const BUTTON_LEFT = 1;
export const BUTTON_MIDDLE = 2;
export const BUTTON_RIGHT = 4;

const TILE_HEAD = 13; // x, y, w, h (2 each), format (1), length (4)
const TILES_HEAD = 3; // type, count
const CURSOR_HEAD = 9; // type, hotspot x, y, width, height
const COPY_LENGTH = 13; // type, source x, y, width, height, destination x, y
const VIDEO_HEAD = 16; // type, flags, x, y, w, h (2 each), frame (4), part, parts
const VIDEO_LAYERS = 3;
const MAX_VIDEO_PARTS = 16;
const CLIPBOARD_HEAD = 5; // type, length
const INPUT_LENGTH = { [POINTER]: 6, [WHEEL]: 9, [KEY]: 6, [POINT_AT]: 5 };

/** ProtocolError marks a message that does not follow docs/PROTOCOL.md. */
export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const utf8 = new TextEncoder();

function view(bytes) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u16(name, v) {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new ProtocolError(`${name} ${v} is not a u16`);
  return v;
}

function dimension(name, v) {
  if (!Number.isInteger(v) || v < 1 || v > MAX_DIMENSION) throw new ProtocolError(`${name} ${v} outside 1..${MAX_DIMENSION}`);
  return v;
}

// ---- display (relay → peer) ----

/** Returns a SIZE message for a desktop of width × height. */
export function encodeSize(width, height) {
  const b = new Uint8Array(5);
  const v = view(b);
  b[0] = SIZE;
  v.setUint16(1, dimension('width', width));
  v.setUint16(3, dimension('height', height));
  return b;
}

/**
 * Returns a TILES message holding tiles, each {x, y, width, height, format, data}
 * with data a Uint8Array of encoded image bytes.
 */
export function encodeTiles(tiles) {
  if (tiles.length < 1 || tiles.length > 0xffff) throw new ProtocolError(`TILES of ${tiles.length} records`);
  const size = tiles.reduce((n, t) => n + TILE_HEAD + t.data.length, TILES_HEAD);
  if (size > MAX_MESSAGE) throw new ProtocolError(`TILES of ${size} bytes`);
  const b = new Uint8Array(size);
  const v = view(b);
  b[0] = TILES;
  v.setUint16(1, tiles.length);
  let p = TILES_HEAD;
  for (const t of tiles) {
    if (MIME[t.format] === undefined) throw new ProtocolError(`tile format ${t.format}`);
    v.setUint16(p, u16('x', t.x));
    v.setUint16(p + 2, u16('y', t.y));
    v.setUint16(p + 4, u16('width', t.width));
    v.setUint16(p + 6, u16('height', t.height));
    b[p + 8] = t.format;
    v.setUint32(p + 9, t.data.length);
    b.set(t.data, p + TILE_HEAD);
    p += TILE_HEAD + t.data.length;
  }
  return b;
}

/** The type of CONSUMED, the one message a peer sends on the display channel. */
export const CONSUMED = 0x10;

/** The type of CAPS, which a peer sends once the display channel opens. */
export const CAPS = 0x11;

/**
 * Display features a peer announces in CAPS: CAP_COPY, it applies COPY messages; CAP_VIDEO,
 * it decodes VIDEO messages (VP8).
 */
export const CAP_COPY = 1;
export const CAP_VIDEO = 2;

/** Returns a CAPS message announcing the feature bits caps. */
export function encodeCaps(caps) {
  const b = new Uint8Array(5);
  b[0] = CAPS;
  view(b).setUint32(1, caps >>> 0);
  return b;
}

/**
 * Returns a COPY message: the width × height rectangle at srcX, srcY of the peer's framebuffer
 * moves to dstX, dstY.
 */
export function encodeCopy({ srcX, srcY, width, height, dstX, dstY }) {
  const b = new Uint8Array(COPY_LENGTH);
  const v = view(b);
  b[0] = COPY;
  [srcX, srcY, width, height, dstX, dstY].forEach((n, i) => v.setUint16(1 + 2 * i, u16('copy field', n)));
  return b;
}

/** A peer reports after every FRAME it applies and whenever it applied this many bytes. */
export const CONSUMED_EVERY = 64 * 1024;

/** Returns a CONSUMED message: n bytes of display messages applied, modulo 2^32. */
export function encodeConsumed(n) {
  const b = new Uint8Array(5);
  b[0] = CONSUMED;
  view(b).setUint32(1, n >>> 0);
  return b;
}

/**
 * Consumption counts the display bytes the page applied on one display channel
 * (docs/PROTOCOL.md, 3.2); the relay sends a peer that reports at most a window beyond them.
 */
export class Consumption {
  constructor() {
    this.n = 0;
    this.reported = 0;
  }

  /** Counts an applied message (a Uint8Array); returns the CONSUMED message to send now, or null. */
  applied(bytes) {
    this.n = (this.n + bytes.length) >>> 0;
    if (((this.n - this.reported) >>> 0) < CONSUMED_EVERY && bytes[0] !== FRAME) return null;
    this.reported = this.n;
    return encodeConsumed(this.n);
  }
}

/** Returns a FRAME message for sequence number seq. */
export function encodeFrame(seq) {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) throw new ProtocolError(`frame seq ${seq}`);
  const b = new Uint8Array(5);
  b[0] = FRAME;
  view(b).setUint32(1, seq);
  return b;
}

/**
 * Returns a CURSOR message: a width × height PNG (data, a Uint8Array) with its hotspot at
 * hotX, hotY; width 0 (with height 0, hotspot 0,0 and no data) for no shape.
 */
export function encodeCursor({ hotX, hotY, width, height, data = new Uint8Array(0) }) {
  const b = new Uint8Array(CURSOR_HEAD + data.length);
  const v = view(b);
  b[0] = CURSOR;
  v.setUint16(1, u16('hotspot x', hotX));
  v.setUint16(3, u16('hotspot y', hotY));
  v.setUint16(5, u16('width', width));
  v.setUint16(7, u16('height', height));
  b.set(data, CURSOR_HEAD);
  checkCursor(b);
  return b;
}

/**
 * Decodes a display message. Tiles must lie inside the desktop size width × height the
 * receiver holds when it applies the message (ignored for SIZE). Returns one of
 *   {type: SIZE, width, height}
 *   {type: TILES, tiles: [{x, y, width, height, format, mime, data}]} (data aliases bytes;
 *                                         mime is '' for FORMAT_FILL)
 *   {type: FRAME, seq}
 *   {type: CURSOR, hotX, hotY, width, height, data} (width 0: no shape; data aliases bytes)
 *   {type: COPY, srcX, srcY, width, height, dstX, dstY} (both rectangles inside the desktop)
 *   {type: VIDEO, x, y, width, height, frame, key, layer, part, parts, data} (the region
 *                                         inside the desktop; data aliases bytes)
 */
export function decodeDisplay(bytes, width, height) {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new ProtocolError('empty display message');
  if (bytes.length > MAX_MESSAGE) throw new ProtocolError(`display message of ${bytes.length} bytes`);
  const v = view(bytes);
  switch (bytes[0]) {
    case SIZE: {
      if (bytes.length !== 5) throw new ProtocolError(`SIZE of ${bytes.length} bytes`);
      return { type: SIZE, width: dimension('width', v.getUint16(1)), height: dimension('height', v.getUint16(3)) };
    }
    case FRAME:
      if (bytes.length !== 5) throw new ProtocolError(`FRAME of ${bytes.length} bytes`);
      return { type: FRAME, seq: v.getUint32(1) };
    case TILES:
      return { type: TILES, tiles: decodeTiles(bytes, v, width, height) };
    case CURSOR:
      return checkCursor(bytes);
    case COPY:
      return decodeCopy(bytes, v, width, height);
    case VIDEO:
      return decodeVideo(bytes, v, width, height);
    default:
      throw new ProtocolError(`display type 0x${bytes[0].toString(16)}`);
  }
}

function decodeTiles(bytes, v, width, height) {
  if (bytes.length < TILES_HEAD) throw new ProtocolError('TILES header truncated');
  const n = v.getUint16(1);
  if (n === 0) throw new ProtocolError('TILES with no record');
  const tiles = [];
  let p = TILES_HEAD;
  for (let i = 0; i < n; i++) {
    if (bytes.length - p < TILE_HEAD) throw new ProtocolError(`tile ${i} header truncated`);
    const t = {
      x: v.getUint16(p),
      y: v.getUint16(p + 2),
      width: v.getUint16(p + 4),
      height: v.getUint16(p + 6),
      format: bytes[p + 8],
    };
    const len = v.getUint32(p + 9);
    p += TILE_HEAD;
    if (len > bytes.length - p) throw new ProtocolError(`tile ${i} data truncated`);
    t.mime = MIME[t.format];
    if (t.mime === undefined) throw new ProtocolError(`tile ${i} format ${t.format}`);
    if (t.format === FORMAT_FILL && len !== FILL_SIZE) throw new ProtocolError(`fill tile ${i} of ${len} bytes`);
    if (t.width < 1 || t.height < 1 || t.x + t.width > width || t.y + t.height > height) {
      throw new ProtocolError(`tile ${i} at ${t.x},${t.y} ${t.width}x${t.height} outside ${width}x${height}`);
    }
    t.data = bytes.subarray(p, p + len);
    p += len;
    tiles.push(t);
  }
  if (p !== bytes.length) throw new ProtocolError(`${bytes.length - p} trailing bytes after TILES`);
  return tiles;
}

function decodeCopy(bytes, v, width, height) {
  if (bytes.length !== COPY_LENGTH) throw new ProtocolError(`COPY of ${bytes.length} bytes`);
  const [srcX, srcY, w, h, dstX, dstY] = [0, 1, 2, 3, 4, 5].map((i) => v.getUint16(1 + 2 * i));
  if (w < 1 || h < 1 || srcX + w > width || srcY + h > height || dstX + w > width || dstY + h > height) {
    throw new ProtocolError(`copy of ${w}x${h} from ${srcX},${srcY} to ${dstX},${dstY} outside ${width}x${height}`);
  }
  return { type: COPY, srcX, srcY, width: w, height: h, dstX, dstY };
}

function decodeVideo(bytes, v, width, height) {
  if (bytes.length <= VIDEO_HEAD) throw new ProtocolError(`VIDEO of ${bytes.length} bytes`);
  const flags = bytes[1];
  const [x, y, w, h] = [0, 1, 2, 3].map((i) => v.getUint16(2 + 2 * i));
  const m = { type: VIDEO, x, y, width: w, height: h, frame: v.getUint32(10), key: (flags & 1) === 1, layer: flags >> 1 };
  m.part = bytes[14];
  m.parts = bytes[15];
  if (m.layer >= VIDEO_LAYERS || (m.key && m.layer !== 0)) throw new ProtocolError(`VIDEO flags ${flags}`);
  if (m.parts < 1 || m.parts > MAX_VIDEO_PARTS || m.part >= m.parts) throw new ProtocolError(`VIDEO part ${m.part} of ${m.parts}`);
  if (w < 1 || h < 1 || x + w > width || y + h > height) {
    throw new ProtocolError(`video region ${w}x${h} at ${x},${y} outside ${width}x${height}`);
  }
  m.data = bytes.subarray(VIDEO_HEAD);
  return m;
}

// Decodes (and so validates) a CURSOR message of at most MAX_MESSAGE bytes.
function checkCursor(bytes) {
  if (bytes.length < CURSOR_HEAD || bytes.length > MAX_MESSAGE) throw new ProtocolError(`CURSOR of ${bytes.length} bytes`);
  const v = view(bytes);
  const c = { type: CURSOR, hotX: v.getUint16(1), hotY: v.getUint16(3), width: v.getUint16(5), height: v.getUint16(7) };
  c.data = bytes.subarray(CURSOR_HEAD);
  if (c.width > MAX_CURSOR || c.height > MAX_CURSOR) throw new ProtocolError(`CURSOR of ${c.width}x${c.height}`);
  if ((c.width === 0) !== (c.height === 0)) throw new ProtocolError(`CURSOR of ${c.width}x${c.height}`);
  if (c.width === 0) {
    if (c.hotX !== 0 || c.hotY !== 0 || c.data.length !== 0) throw new ProtocolError('empty CURSOR with a hotspot or image');
    return c;
  }
  if (c.hotX >= c.width || c.hotY >= c.height) throw new ProtocolError(`CURSOR hotspot ${c.hotX},${c.hotY} outside ${c.width}x${c.height}`);
  if (c.data.length === 0) throw new ProtocolError(`CURSOR of ${c.width}x${c.height} without an image`);
  return c;
}

// ---- input (peer → relay) ----

/** Returns a pointer message; buttons uses the wire bits (BUTTON_*). */
/** Returns a POINT_AT message: the peer points at x, y (shown to the others, never applied). */
export function encodePointAt(x, y) {
  const b = new Uint8Array(5);
  const v = view(b);
  b[0] = POINT_AT;
  v.setUint16(1, u16('x', x));
  v.setUint16(3, u16('y', y));
  return b;
}

export function encodePointer(x, y, buttons) {
  if (!Number.isInteger(buttons) || (buttons & ~7) !== 0) throw new ProtocolError(`pointer buttons ${buttons}`);
  const b = new Uint8Array(6);
  const v = view(b);
  b[0] = POINTER;
  v.setUint16(1, u16('x', x));
  v.setUint16(3, u16('y', y));
  b[5] = buttons;
  return b;
}

/** Returns a wheel message of dx, dy steps (positive dy scrolls down). */
export function encodeWheel(x, y, dx, dy) {
  for (const [name, d] of [['dx', dx], ['dy', dy]]) {
    if (!Number.isInteger(d) || d < -0x8000 || d > 0x7fff) throw new ProtocolError(`wheel ${name} ${d}`);
  }
  const b = new Uint8Array(9);
  const v = view(b);
  b[0] = WHEEL;
  v.setUint16(1, u16('x', x));
  v.setUint16(3, u16('y', y));
  v.setInt16(5, dx);
  v.setInt16(7, dy);
  return b;
}

/** Returns a key message: X11 keysym, pressed (down true) or released. */
export function encodeKey(keysym, down) {
  if (!Number.isInteger(keysym) || keysym < 0 || keysym > 0xffffffff) throw new ProtocolError(`keysym ${keysym}`);
  const b = new Uint8Array(6);
  b[0] = KEY;
  b[1] = down ? 1 : 0;
  view(b).setUint32(2, keysym);
  return b;
}

/**
 * Returns a clipboard message carrying text as UTF-8. Text of more than MAX_CLIPBOARD bytes
 * throws a ProtocolError: the caller tells the user rather than sending part of it.
 */
export function encodeClipboard(text) {
  if (typeof text !== 'string') throw new ProtocolError('clipboard text is not a string');
  const data = utf8.encode(text); // lone surrogates become U+FFFD: always valid UTF-8
  if (data.length > MAX_CLIPBOARD) throw new ProtocolError(`clipboard text of ${data.length} bytes, limit ${MAX_CLIPBOARD}`);
  const b = new Uint8Array(CLIPBOARD_HEAD + data.length);
  b[0] = CLIPBOARD;
  view(b).setUint32(1, data.length);
  b.set(data, CLIPBOARD_HEAD);
  return b;
}

const strictUTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeClipboard(bytes) {
  if (bytes.length < CLIPBOARD_HEAD) throw new ProtocolError('clipboard header truncated');
  const n = view(bytes).getUint32(1);
  if (n > MAX_CLIPBOARD) throw new ProtocolError(`clipboard text of ${n} bytes, limit ${MAX_CLIPBOARD}`);
  if (bytes.length !== CLIPBOARD_HEAD + n) throw new ProtocolError(`clipboard of ${bytes.length} bytes, length says ${n}`);
  try {
    return { type: CLIPBOARD, text: strictUTF8.decode(bytes.subarray(CLIPBOARD_HEAD)) };
  } catch {
    throw new ProtocolError('clipboard text is not UTF-8');
  }
}

/**
 * Decodes an input message against the desktop size width × height. Returns
 *   {type: POINTER, x, y, buttons} | {type: WHEEL, x, y, dx, dy} | {type: KEY, down, keysym}
 *   | {type: CLIPBOARD, text} | {type: POINT_AT, x, y}
 */
export function decodeInput(bytes, width, height) {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new ProtocolError('empty input message');
  if (bytes[0] === CLIPBOARD) return decodeClipboard(bytes);
  const want = INPUT_LENGTH[bytes[0]];
  if (!want) throw new ProtocolError(`input type 0x${bytes[0].toString(16)}`);
  if (bytes.length !== want) throw new ProtocolError(`input type ${bytes[0]} of ${bytes.length} bytes, want ${want}`);
  const v = view(bytes);
  if (bytes[0] === KEY) {
    if (bytes[1] > 1) throw new ProtocolError(`key down flag ${bytes[1]}`);
    return { type: KEY, down: bytes[1] === 1, keysym: v.getUint32(2) };
  }
  const x = v.getUint16(1);
  const y = v.getUint16(3);
  if (x >= width || y >= height) throw new ProtocolError(`input at ${x},${y} outside ${width}x${height}`);
  if (bytes[0] === POINTER) {
    if ((bytes[5] & ~7) !== 0) throw new ProtocolError(`pointer buttons ${bytes[5]}`);
    return { type: POINTER, x, y, buttons: bytes[5] };
  }
  if (bytes[0] === POINT_AT) return { type: POINT_AT, x, y };
  return { type: WHEEL, x, y, dx: v.getInt16(5), dy: v.getInt16(7) };
}
