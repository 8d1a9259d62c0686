// Unit tests of everyone's pointer (web/static/pointers.js) and its input message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePointers, POINTER_COLORS } from '../static/pointers.js';
import * as p from '../static/protocol.js';

test('POINT_AT has the documented bytes (as the Go relay) and decodes inside the desktop only', () => {
  assert.equal(Buffer.from(p.encodePointAt(258, 3)).toString('hex'), '0501020003');
  assert.deepEqual(p.decodeInput(p.encodePointAt(99, 0), 100, 100), { type: p.POINT_AT, x: 99, y: 0 });
  assert.throws(() => p.decodeInput(p.encodePointAt(100, 0), 100, 100), p.ProtocolError);
});

test('pointers messages are checked and bounded; colours come from the palette', () => {
  const many = Array.from({ length: 40 }, (_, i) => ({ peer: `p${i}`, name: `n${i}`, color: i, x: i, y: 1 }));
  const got = parsePointers({ type: 'pointers', pointers: [...many, { peer: 'bad', name: 'x', x: -1, y: 0 }, null] });
  assert.equal(got.length, 32);
  assert.deepEqual(got[13], { peer: 'p13', name: 'n13', color: POINTER_COLORS[1], x: 13, y: 1 });
  assert.deepEqual(parsePointers({ type: 'pointers' }), []);
  assert.deepEqual(parsePointers({ pointers: [{ peer: 'a', name: 'b', color: 'red', x: 1, y: 2 }] })[0].color, POINTER_COLORS[0]);
});

test('control messages are checked: holder, requests (at most 32) and the switch', async () => {
  const { parseHandoff } = await import('../static/handoff.js');
  assert.deepEqual(parseHandoff({ type: 'control' }), { holder: null, requests: [], on: false });
  const many = Array.from({ length: 40 }, (_, i) => ({ peer: `p${i}`, name: `n${i}` }));
  const s = parseHandoff({ holder: { peer: 'a', name: 'Ana (guest)' }, requests: [...many, { peer: 1 }], on: true });
  assert.deepEqual(s.holder, { peer: 'a', name: 'Ana (guest)' });
  assert.equal(s.requests.length, 32);
  assert.equal(s.on, true);
});
