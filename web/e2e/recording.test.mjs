import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { crc32c, KIND_CONTROL, KIND_DISPLAY, KIND_INPUT, RecordingReader } from '../static/recording.js';
import { clockText, rosterEvents, rosterOf } from '../static/player.js';

// The Go writer's sample (internal/recfile TestGolden): four records after the meta.
const sample = new Uint8Array(await readFile(new URL('../../internal/recfile/testdata/sample.pdrec', import.meta.url)));

test('crc32c is the Castagnoli checksum', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
});

test('reads the Go writer sample whole and a byte at a time', () => {
  for (const step of [sample.length, 1, 7]) {
    const r = new RecordingReader();
    for (let i = 0; i < sample.length; i += step) r.append(sample.slice(i, i + step));
    assert.equal(r.error, '');
    assert.equal(r.meta.session, 's1');
    assert.equal(r.meta.connectionName, 'Desk');
    assert.deepEqual(
      r.records.map((x) => [x.kind, x.at]),
      [
        [KIND_DISPLAY, 0],
        [KIND_CONTROL, 1500],
        [KIND_DISPLAY, 1500],
        [KIND_INPUT, 2000],
      ],
    );
    assert.deepEqual(r.keyframes, [0]);
    assert.equal(r.duration(), 2000);
    assert.equal(r.keyframeBefore(1000), 0);
  }
});

test('a cut recording reads to its last complete record; a damaged one stops there', () => {
  const r = new RecordingReader();
  r.append(sample.slice(0, sample.length - 3));
  assert.equal(r.error, '');
  assert.equal(r.records.length, 3);
  const bad = sample.slice();
  bad[bad.length - 6] ^= 0xff;
  const d = new RecordingReader();
  d.append(bad);
  assert.match(d.error, /checksum/);
  assert.equal(d.records.length, 3);
  const n = new RecordingReader();
  n.append(new TextEncoder().encode('not a recording at all'));
  assert.match(n.error, /not a peerdesk recording/);
});

test('player texts', () => {
  assert.equal(clockText(0), '0:00');
  assert.equal(clockText(65400), '1:05');
  assert.equal(clockText(3723000), '1:02:03');
  // A snapshot (the first presence, or one after a gap) has no joined/left: rosters are compared.
  const first = rosterOf({ participants: [{ name: 'alice', connections: 1 }, { name: 'Anonymous', connections: 3 }, { name: 'bad' }] });
  assert.deepEqual([...first], [['alice', 1], ['Anonymous', 3]]);
  assert.deepEqual(rosterEvents(0, new Map(), first), [
    { at: 0, kind: 'join', text: 'Anonymous joined (3 now)' },
    { at: 0, kind: 'join', text: 'alice joined' },
  ]);
  const next = rosterOf({ participants: [{ name: 'Ana (guest)', connections: 1 }, { name: 'Anonymous', connections: 2 }] });
  assert.deepEqual(rosterEvents(500, first, next), [
    { at: 500, kind: 'join', text: 'Ana (guest) joined' },
    { at: 500, kind: 'leave', text: 'Anonymous left (2 now)' },
    { at: 500, kind: 'leave', text: 'alice left' },
  ]);
  assert.deepEqual(rosterEvents(9, next, next), []);
});

test('recorded pointers', async () => {
  const { recordedPointer, pointerColor } = await import('../static/player.js');
  const enc = (o) => new TextEncoder().encode(JSON.stringify(o));
  const pointer = btoa(String.fromCharCode(1, 1, 44, 0, 50, 1)); // x 300, y 50, left button
  assert.deepEqual(recordedPointer(enc({ type: 'input', peer: 'p1', name: 'Ana (guest)', input: pointer })), { peer: 'p1', name: 'Ana (guest)', x: 300, y: 50 });
  const key = btoa(String.fromCharCode(3, 1, 0, 0, 0, 0x61));
  assert.equal(recordedPointer(enc({ type: 'input', peer: 'p1', name: 'a', input: key })), null);
  assert.equal(recordedPointer(enc({ type: 'input', peer: 'p1', name: 'a', input: '!!' })), null);
  assert.equal(recordedPointer(new TextEncoder().encode('not json')), null);
  assert.equal(pointerColor('p1'), pointerColor('p1'));
});
