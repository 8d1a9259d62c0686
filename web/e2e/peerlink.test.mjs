// Unit tests of the peer link's negotiation and ICE restart (web/static/peerlink.js).
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

import { DISCONNECTED_GRACE_MS, MAX_RESTARTS, PeerLink, RESTART_INTERVAL_MS } from '../static/peerlink.js';
import { FakePeerConnection, fakeTimers, flush } from './fakes.mjs';

beforeEach(() => {
  FakePeerConnection.made = [];
});

async function link() {
  const timers = fakeTimers();
  const events = [];
  const signals = [];
  const pushed = [];
  const display = { push: (b, done) => { pushed.push(b); done(new Uint8Array(b)); return true; }, dropBacklog: () => events.push('drop') };
  const l = new PeerLink({ iceServers: [] }, {
    signal: (t) => signals.push(JSON.parse(t)),
    display,
    onOpen: () => events.push('open'),
    onControl: (t) => events.push(`control ${t}`),
    onConnecting: () => events.push('connecting'),
    onLost: () => events.push('lost'),
    onResync: () => events.push('resync'),
    onNotice: (t) => events.push(`notice ${t}`),
  }, { RTCPeerConnection: FakePeerConnection, ...timers });
  await l.start();
  const pc = FakePeerConnection.made.at(-1);
  await l.answer('v=0 answer');
  return { l, pc, timers, events, signals, pushed, display };
}

test('start makes the three negotiated channels and sends an offer', async () => {
  const { pc, signals } = await link();
  assert.deepEqual(Object.keys(pc.channels).sort(), ['control', 'display', 'input']);
  assert.deepEqual(pc.offers, [{}]);
  assert.equal(signals[0].type, 'offer');
});

test('the open display channel announces COPY support first (VIDEO only with WebCodecs), and again without VIDEO once video breaks', async () => {
  const { pc, display } = await link();
  pc.channels.display.open();
  await flush();
  assert.deepEqual([...pc.channels.display.sent[0]], [0x11, 0, 0, 0, 1]); // node has no WebCodecs
  display.onVideoBroken();
  assert.deepEqual([...pc.channels.display.sent[1]], [0x11, 0, 0, 0, 1]);
});

test('candidates before the answer wait for it, at most 100', async () => {
  const timers = fakeTimers();
  const l = new PeerLink({}, { signal() {}, display: {}, onNotice() {} }, { RTCPeerConnection: FakePeerConnection, ...timers });
  await l.start();
  for (let i = 0; i < 120; i++) l.candidate({ candidate: `c${i}` });
  const pc = FakePeerConnection.made.at(-1);
  assert.equal(pc.candidates.length, 0);
  await l.answer('v=0');
  await flush();
  assert.equal(pc.candidates.length, 100);
  l.candidate({ candidate: 'late' });
  await flush();
  assert.equal(pc.candidates.at(-1).candidate, 'late');
});

test('disconnected for the grace period restarts ICE on the same connection', async () => {
  const { pc, timers, events } = await link();
  pc.ice('connected');
  pc.ice('disconnected');
  timers.advance(DISCONNECTED_GRACE_MS - 1);
  assert.equal(pc.offers.length, 1, 'restarted before the grace period');
  timers.advance(1);
  await flush();
  assert.deepEqual(pc.offers, [{}, { iceRestart: true }]);
  assert.ok(events.includes('connecting'));
  assert.equal(FakePeerConnection.made.length, 1);
});

test('a disconnection shorter than the grace period restarts nothing', async () => {
  const { pc, timers } = await link();
  pc.ice('disconnected');
  timers.advance(DISCONNECTED_GRACE_MS / 2);
  pc.ice('connected');
  timers.advance(60000);
  assert.equal(pc.offers.length, 1);
});

test('failed restarts at once, then every interval until connected', async () => {
  const { l, pc, timers, events } = await link();
  pc.channels.display.open();
  pc.ice('failed');
  await flush();
  assert.equal(pc.offers.length, 2);
  await l.answer('v=0');
  timers.advance(RESTART_INTERVAL_MS);
  await flush();
  assert.equal(pc.offers.length, 3);
  pc.ice('connected');
  timers.advance(10 * RESTART_INTERVAL_MS);
  await flush();
  assert.equal(pc.offers.length, 3, 'restarted after ICE was connected again');
  assert.equal(events.filter((e) => e === 'open').length, 2, 'display open, then connected again');
});

test('an unanswered restart offer is not repeated, and after the last try the link is lost', async () => {
  const { pc, timers, events } = await link();
  pc.ice('failed');
  await flush();
  for (let i = 1; i < MAX_RESTARTS; i++) timers.advance(RESTART_INTERVAL_MS);
  await flush();
  assert.equal(pc.offers.length, 2, 'offered again while the first restart had no answer');
  assert.ok(!events.includes('lost'));
  timers.advance(RESTART_INTERVAL_MS);
  assert.ok(events.includes('lost'));
  assert.ok(pc.closed);
});

test('a closed link acts on nothing: no restart, no display message, no report', async () => {
  const { l, pc, timers, events, pushed } = await link();
  pc.ice('disconnected');
  l.close();
  timers.advance(60000);
  pc.channels.display.onmessage({ data: new ArrayBuffer(5) });
  pc.channels.control.onmessage({ data: '{"type":"welcome"}' });
  await flush();
  assert.equal(pc.offers.length, 1);
  assert.equal(pushed.length, 0);
  assert.deepEqual(events, []);
});

test('applied display bytes are reported on the display channel', async () => {
  const { pc, pushed } = await link();
  pc.channels.display.open();
  const frame = new Uint8Array([0x03, 0, 0, 0, 1]).buffer;
  pc.channels.display.onmessage({ data: frame });
  assert.equal(pushed.length, 1);
  assert.deepEqual([...pc.channels.display.sent.at(-1)], [0x10, 0, 0, 0, 5]);
});
