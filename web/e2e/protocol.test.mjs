// Unit tests of the page's wire codec (web/static/protocol.js) against docs/PROTOCOL.md.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as m from '../static/messages.js';
import * as proto from '../static/protocol.js';

const p = { ...proto, ...m };

const hex = (b) => Buffer.from(b).toString('hex');

test('SIZE and FRAME have the documented bytes', () => {
  assert.equal(hex(p.encodeSize(1280, 800)), '0105000320');
  assert.equal(hex(p.encodeFrame(0x01020304)), '0301020304');
  assert.deepEqual(p.decodeDisplay(p.encodeSize(8192, 1), 0, 0), { type: p.SIZE, width: 8192, height: 1 });
  assert.deepEqual(p.decodeDisplay(p.encodeFrame(0xffffffff), 0, 0), { type: p.FRAME, seq: 0xffffffff });
});

test('CONSUMED reports after every FRAME and every 64 KiB, modulo 2^32 (as the Go client)', () => {
  assert.equal(hex(p.encodeConsumed(0x01020304)), '1001020304');
  const c = new p.Consumption();
  const tiles = new Uint8Array(40 * 1024);
  tiles[0] = p.TILES;
  assert.equal(c.applied(tiles), null);
  assert.equal(hex(c.applied(tiles)), hex(p.encodeConsumed(80 * 1024)));
  assert.equal(hex(c.applied(p.encodeFrame(1))), hex(p.encodeConsumed(80 * 1024 + 5)));
  c.n = c.reported = 2 ** 32 - 10;
  assert.equal(hex(c.applied(p.encodeFrame(2))), hex(p.encodeConsumed(2 ** 32 - 5)));
  assert.equal(hex(c.applied(new Uint8Array(p.CONSUMED_EVERY))), hex(p.encodeConsumed(p.CONSUMED_EVERY - 5)));
});

test('COPY and CAPS have the documented bytes (as the Go relay)', () => {
  const c = { srcX: 1, srcY: 20, width: 300, height: 180, dstX: 1, dstY: 0 };
  const b = p.encodeCopy(c);
  assert.equal(hex(b), '05' + '0001' + '0014' + '012c' + '00b4' + '0001' + '0000');
  assert.deepEqual(p.decodeDisplay(b, 301, 200), { type: p.COPY, ...c });
  assert.throws(() => p.decodeDisplay(b, 300, 200), p.ProtocolError); // source past the right edge
  assert.throws(() => p.decodeDisplay(p.encodeCopy({ ...c, dstY: 21 }), 301, 200), p.ProtocolError);
  assert.throws(() => p.decodeDisplay(p.encodeCopy({ ...c, width: 0 }), 301, 200), p.ProtocolError);
  assert.throws(() => p.decodeDisplay(b.subarray(0, 12), 301, 200), p.ProtocolError);
  assert.equal(hex(p.encodeCaps(p.CAP_COPY)), '1100000001');
});

test('VIDEO has the documented bytes (as the Go relay)', () => {
  // wire.EncodeVideo(Video{X: 64, Y: 8, W: 256, H: 192, Frame: 0x0a0b0c0d, Layer: 2}, "vp8"), part 0 of 1
  const b = Buffer.from('06' + '04' + '0040' + '0008' + '0100' + '00c0' + '0a0b0c0d' + '00' + '01' + '767038', 'hex');
  const d = p.decodeDisplay(new Uint8Array(b), 320, 200);
  assert.deepEqual({ ...d, data: [...d.data] }, {
    type: p.VIDEO, x: 64, y: 8, width: 256, height: 192, frame: 0x0a0b0c0d, key: false, layer: 2, part: 0, parts: 1, data: [0x76, 0x70, 0x38],
  });
  const key = new Uint8Array(b);
  key[1] = 1;
  assert.equal(p.decodeDisplay(key, 320, 200).key, true);
  for (const [at, v] of [[1, 5], [1, 6], [14, 1], [15, 17], [15, 0]]) {
    const bad = new Uint8Array(b);
    bad[at] = v;
    assert.throws(() => p.decodeDisplay(bad, 320, 200), p.ProtocolError, `byte ${at} = ${v}`);
  }
  assert.throws(() => p.decodeDisplay(new Uint8Array(b), 319, 200), p.ProtocolError); // region past the edge
  assert.throws(() => p.decodeDisplay(new Uint8Array(b).subarray(0, 16), 320, 200), p.ProtocolError); // no data
  assert.equal(hex(p.encodeCaps(p.CAP_COPY | p.CAP_VIDEO)), '1100000003');
});

test('a VIDEO the decoder accepts lies inside the desktop with a valid part and layer', () => {
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    const b = new Uint8Array(17).map(rand);
    b[0] = p.VIDEO;
    b[1] &= 7;
    b[2] = b[4] = b[6] = b[8] = 0; // positions and sizes under 128
    for (const at of [3, 5, 7, 9]) b[at] &= 0x7f;
    b[15] &= 0x1f;
    let d;
    try {
      d = p.decodeDisplay(b, 200, 150);
    } catch (err) {
      assert.ok(err instanceof p.ProtocolError, err.stack);
      continue;
    }
    accepted++;
    assert.ok(d.width >= 1 && d.height >= 1 && d.x + d.width <= 200 && d.y + d.height <= 150);
    assert.ok(d.parts >= 1 && d.parts <= 16 && d.part < d.parts && d.layer < 3 && !(d.key && d.layer > 0));
    assert.equal(d.data.length, 1);
  }
  assert.ok(accepted > 100, `only ${accepted} video headers accepted`);
});

test('TILES round trip and layout', () => {
  const tiles = [
    { x: 1, y: 2, width: 3, height: 4, format: p.FORMAT_PNG, data: new Uint8Array([9, 8, 7]) },
    { x: 60, y: 70, width: 4, height: 10, format: p.FORMAT_JPEG, data: new Uint8Array([]) },
  ];
  const b = p.encodeTiles(tiles);
  assert.equal(hex(b.subarray(0, 16)), '020002' + '0001000200030004' + '01' + '00000003');
  const d = p.decodeDisplay(b, 64, 80);
  assert.equal(d.type, p.TILES);
  assert.equal(d.tiles.length, 2);
  assert.deepEqual({ ...d.tiles[0], data: [...d.tiles[0].data] }, { ...tiles[0], mime: 'image/png', data: [9, 8, 7] });
  assert.equal(d.tiles[1].mime, 'image/jpeg');
  assert.equal(d.tiles[1].data.length, 0);
});

test('fill tiles carry a colour', () => {
  const b = p.encodeTiles([{ x: 4, y: 0, width: 64, height: 8, format: p.FORMAT_FILL, data: new Uint8Array([1, 2, 3]) }]);
  assert.equal(hex(b), '020001' + '0004000000400008' + '03' + '00000003' + '010203');
  const d = p.decodeDisplay(b, 68, 8);
  assert.deepEqual([...d.tiles[0].data], [1, 2, 3]);
  assert.equal(d.tiles[0].mime, '');
});

test('malformed display messages are refused', () => {
  const good = p.encodeTiles([{ x: 0, y: 0, width: 2, height: 2, format: 1, data: new Uint8Array(5) }]);
  const bad = {
    empty: new Uint8Array(0),
    'unknown type': new Uint8Array([9]),
    'short SIZE': new Uint8Array([1, 0, 1, 0]),
    'zero width': new Uint8Array([1, 0, 0, 0, 1]),
    'too wide': p.encodeSize(8192, 1).map((v, i) => (i === 1 ? 0x20 : i === 2 ? 1 : v)),
    'long FRAME': new Uint8Array([3, 0, 0, 0, 0, 0]),
    'no records': new Uint8Array([2, 0, 0]),
    'truncated header': good.subarray(0, 10),
    'truncated data': good.subarray(0, good.length - 1),
    'trailing bytes': new Uint8Array([...good, 0]),
    'bad format': good.map((v, i) => (i === 11 ? 5 : v)),
    'fill of 5 bytes': good.map((v, i) => (i === 11 ? p.FORMAT_FILL : v)),
    'too large': new Uint8Array(p.MAX_MESSAGE + 1).fill(3, 0, 1),
  };
  for (const [name, b] of Object.entries(bad)) {
    assert.throws(() => p.decodeDisplay(b, 2, 2), p.ProtocolError, name);
  }
  assert.throws(() => p.decodeDisplay(good, 1, 2), p.ProtocolError, 'outside the desktop');
  assert.throws(() => p.decodeDisplay(good, 0, 0), p.ProtocolError, 'before SIZE');
  assert.doesNotThrow(() => p.decodeDisplay(good, 2, 2));
});

test('input messages have the documented bytes and round trip', () => {
  assert.equal(hex(p.encodePointer(0x102, 0x304, p.BUTTON_LEFT | p.BUTTON_RIGHT)), '010102030405');
  assert.equal(hex(p.encodeWheel(1, 2, -1, 3)), '0200010002ffff0003');
  assert.equal(hex(p.encodeKey(0xff0d, true)), '03010000ff0d');
  assert.deepEqual(p.decodeInput(p.encodePointer(9, 9, 7), 10, 10), { type: p.POINTER, x: 9, y: 9, buttons: 7 });
  assert.deepEqual(p.decodeInput(p.encodeWheel(0, 0, -32768, 32767), 1, 1), { type: p.WHEEL, x: 0, y: 0, dx: -32768, dy: 32767 });
  assert.deepEqual(p.decodeInput(p.encodeKey(0x01000000 + 0x20ac, false), 1, 1), { type: p.KEY, down: false, keysym: 0x010020ac });
  assert.throws(() => p.decodeInput(p.encodePointer(10, 0, 0), 10, 10), p.ProtocolError);
  assert.throws(() => p.decodeInput(new Uint8Array([1, 0, 0, 0, 0, 8]), 10, 10), p.ProtocolError);
  assert.throws(() => p.decodeInput(new Uint8Array([3, 2, 0, 0, 0, 0]), 10, 10), p.ProtocolError);
  assert.throws(() => p.decodeInput(new Uint8Array([2, 0, 0, 0, 0]), 10, 10), p.ProtocolError);
  assert.throws(() => p.encodePointer(0x10000, 0, 0), p.ProtocolError);
  assert.throws(() => p.encodeWheel(0, 0, 0, 40000), p.ProtocolError);
  assert.throws(() => p.encodePointer(0, 0, 8), p.ProtocolError);
});

test('JSON messages', () => {
  assert.deepEqual(p.decodeControl('{"type":"welcome","readOnly":true}'), { type: 'welcome', readOnly: true });
  for (const bad of ['', 'null', '[]', '{}', '{"type":1}', 'nope', 'x'.repeat(p.MAX_MESSAGE + 1)]) {
    assert.throws(() => p.decodeControl(bad), p.ProtocolError, bad.slice(0, 10));
    assert.throws(() => p.decodeSignal(bad), p.ProtocolError, bad.slice(0, 10));
  }
  assert.throws(() => p.decodeSignal('{"type":"answer"}'), p.ProtocolError);
  assert.throws(() => p.decodeSignal(JSON.stringify({ type: 'answer', sdp: 'v'.repeat(p.MAX_SDP + 1) })), p.ProtocolError);
  assert.throws(() => p.decodeSignal('{"type":"candidate","candidate":null}'), p.ProtocolError);
  assert.throws(() => p.decodeSignal('{"type":"hello","iceServers":{}}'), p.ProtocolError);
  assert.equal(p.decodeSignal('{"type":"answer","sdp":"v=0"}').sdp, 'v=0');
  assert.deepEqual(JSON.parse(p.offerSignal('v=0')), { type: 'offer', sdp: 'v=0' });
  const init = { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' };
  assert.deepEqual(JSON.parse(p.candidateSignal(init)), { type: 'candidate', candidate: init });
  assert.throws(() => p.encodeSignal({ type: 'offer', sdp: 'é'.repeat(p.MAX_MESSAGE / 2) }), p.ProtocolError);
});

test('decoders survive random bytes', () => {
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 5000; i++) {
    const b = new Uint8Array(1 + (rand() % 40)).map(rand);
    b[0] = 1 + (b[0] % 6);
    for (const fn of [() => p.decodeDisplay(b, 300, 300), () => p.decodeInput(b, 300, 300)]) {
      try {
        fn();
      } catch (err) {
        assert.ok(err instanceof p.ProtocolError, err.stack);
      }
    }
  }
});

test('a COPY the decoder accepts lies inside the desktop and encodes to the same bytes', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0x1ff;
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    const c = { srcX: rand(), srcY: rand(), width: rand(), height: rand(), dstX: rand(), dstY: rand() };
    const b = p.encodeCopy(c);
    let d;
    try {
      d = p.decodeDisplay(b, 400, 300);
    } catch (err) {
      assert.ok(err instanceof p.ProtocolError, err.stack);
      continue;
    }
    accepted++;
    assert.ok(d.width >= 1 && d.height >= 1 && d.srcX + d.width <= 400 && d.dstX + d.width <= 400);
    assert.ok(d.srcY + d.height <= 300 && d.dstY + d.height <= 300);
    assert.deepEqual([...p.encodeCopy(d)], [...b]);
  }
  assert.ok(accepted > 100, `only ${accepted} copies accepted`);
});
