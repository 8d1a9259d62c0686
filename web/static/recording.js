// Reads session recordings (docs/PROTOCOL.md, 5) as they arrive: the magic, the meta record,
// then records of kind, time and data, each checked against its CRC-32C. A recording still
// being written (or cut short by a crash) reads up to its last complete record.

export const MAGIC = 'PDREC01\n';
export const KIND_META = 0;
export const KIND_DISPLAY = 1;
export const KIND_CONTROL = 2;
export const KIND_INPUT = 3;
const HEADER = 9;
const TRAILER = 4;
const MAX_DATA = 256 * 1024;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Returns the CRC-32C (Castagnoli) of the byte arrays, one after the other. */
export function crc32c(...parts) {
  let c = 0xffffffff;
  for (const b of parts) for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * RecordingReader takes a recording's bytes a chunk at a time (append) and keeps every
 * complete record: meta (the header's JSON, once read), records [{kind, at (ms), data
 * (Uint8Array)}] and keyframes (the indices of the display records that are SIZE messages:
 * where a replay can start). error is set, and nothing more is read, on a corrupt record.
 */
export class RecordingReader {
  constructor() {
    this.buf = new Uint8Array(0);
    this.offset = 0; // bytes of buf already read
    this.total = 0; // bytes appended
    this.meta = null;
    this.records = [];
    this.keyframes = [];
    this.error = '';
    this.last = 0;
  }

  /** Appends a chunk (ArrayBuffer or Uint8Array) and reads the records it completes. */
  append(chunk) {
    const add = new Uint8Array(chunk);
    const rest = this.buf.subarray(this.offset);
    const buf = new Uint8Array(rest.length + add.length);
    buf.set(rest);
    buf.set(add, rest.length);
    this.buf = buf;
    this.offset = 0;
    this.total += add.length;
    if (!this.error) this.read();
  }

  read() {
    const buf = this.buf;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (this.meta === null && this.total === buf.length) {
      if (buf.length < MAGIC.length) return;
      if (new TextDecoder().decode(buf.subarray(0, MAGIC.length)) !== MAGIC) {
        this.error = 'not a peerdesk recording';
        return;
      }
      this.offset = MAGIC.length;
    }
    for (;;) {
      const at = this.offset;
      if (buf.length - at < HEADER) return;
      const kind = buf[at];
      const time = view.getUint32(at + 1);
      const n = view.getUint32(at + 5);
      if (n > MAX_DATA || kind > KIND_INPUT || time < this.last) {
        this.error = `corrupt record at byte ${this.total - buf.length + at}`;
        return;
      }
      if (buf.length - at < HEADER + n + TRAILER) return;
      const data = buf.slice(at + HEADER, at + HEADER + n);
      if (crc32c(buf.subarray(at, at + HEADER), data) !== view.getUint32(at + HEADER + n)) {
        this.error = `bad checksum at byte ${this.total - buf.length + at}`;
        return;
      }
      this.offset = at + HEADER + n + TRAILER;
      this.last = time;
      if (this.meta === null) {
        if (kind !== KIND_META) {
          this.error = 'no meta record';
          return;
        }
        try {
          this.meta = JSON.parse(new TextDecoder().decode(data));
        } catch {
          this.error = 'bad meta record';
          return;
        }
        continue;
      }
      if (kind === KIND_META) {
        this.error = `a second meta record at byte ${this.total - buf.length + at}`;
        return;
      }
      if (kind === KIND_DISPLAY && data[0] === 0x01) this.keyframes.push(this.records.length);
      this.records.push({ kind, at: time, data });
    }
  }

  /** The time of the last record, in ms (0 before any). */
  duration() {
    return this.records.length ? this.records[this.records.length - 1].at : 0;
  }

  /** The index of the last keyframe at or before time t (ms), or -1. */
  keyframeBefore(t) {
    let lo = 0;
    let hi = this.keyframes.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.records[this.keyframes[mid]].at <= t) {
        best = this.keyframes[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }
}
