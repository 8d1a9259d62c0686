// Unit tests of the CURSOR display message (web/static/protocol.js) against docs/PROTOCOL.md 3.2.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as p from '../static/protocol.js';

const hex = (b) => Buffer.from(b).toString('hex');
const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);

// A CURSOR message with the given header fields and image bytes, unchecked.
function raw(hotX, hotY, width, height, data = png) {
  const b = new Uint8Array(9 + data.length);
  const v = new DataView(b.buffer);
  b[0] = 0x04;
  v.setUint16(1, hotX);
  v.setUint16(3, hotY);
  v.setUint16(5, width);
  v.setUint16(7, height);
  b.set(data, 9);
  return b;
}

test('CURSOR has the documented bytes and decodes', () => {
  const b = p.encodeCursor({ hotX: 1, hotY: 2, width: 16, height: 24, data: png });
  assert.equal(hex(b), '04' + '0001' + '0002' + '0010' + '0018' + '89504e47');
  const c = p.decodeDisplay(b, 0, 0); // no SIZE needed
  assert.deepEqual({ ...c, data: [...c.data] }, { type: p.CURSOR, hotX: 1, hotY: 2, width: 16, height: 24, data: [...png] });
  const max = p.decodeDisplay(raw(127, 127, 128, 128), 10, 10);
  assert.equal(max.width, 128);
});

test('a 0x0 CURSOR means no shape', () => {
  const b = p.encodeCursor({ hotX: 0, hotY: 0, width: 0, height: 0 });
  assert.equal(hex(b), '040000000000000000');
  const c = p.decodeDisplay(b, 0, 0);
  assert.equal(c.width, 0);
  assert.equal(c.height, 0);
  assert.equal(c.data.length, 0);
});

test('malformed CURSOR messages are refused', () => {
  const bad = {
    'truncated header': raw(0, 0, 1, 1).subarray(0, 8),
    'wider than 128': raw(0, 0, 129, 1),
    'taller than 128': raw(0, 0, 1, 129),
    'width without height': raw(0, 0, 4, 0, new Uint8Array(0)),
    'height without width': raw(0, 0, 0, 4, new Uint8Array(0)),
    'hotspot x outside': raw(16, 0, 16, 16),
    'hotspot y outside': raw(0, 16, 16, 16),
    'no image': raw(0, 0, 16, 16, new Uint8Array(0)),
    'empty with a hotspot': raw(1, 0, 0, 0, new Uint8Array(0)),
    'empty with an image': raw(0, 0, 0, 0),
    'over 64 KiB': raw(0, 0, 16, 16, new Uint8Array(p.MAX_MESSAGE - 8)),
  };
  for (const [what, b] of Object.entries(bad)) {
    assert.throws(() => p.decodeDisplay(b, 100, 100), p.ProtocolError, what);
  }
  assert.throws(() => p.encodeCursor({ hotX: 3, hotY: 0, width: 2, height: 2, data: png }), p.ProtocolError);
  // The largest image that fits is accepted.
  assert.equal(p.decodeDisplay(raw(0, 0, 1, 1, new Uint8Array(p.MAX_MESSAGE - 9)), 1, 1).data.length, p.MAX_MESSAGE - 9);
});
