// Unit tests of the signaling socket's reconnecting (web/static/sigsocket.js).
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

import { reconnectDelay, SignalingSocket } from '../static/sigsocket.js';
import { FakeWebSocket, fakeTimers, flush } from './fakes.mjs';

beforeEach(() => {
  FakeWebSocket.made = [];
});

function socket(handlers = {}) {
  const timers = fakeTimers();
  const events = [];
  const s = new SignalingSocket('ws://host/ws/peer?connection=1', {
    onMessage: (t) => events.push(`message ${t}`),
    onLost: () => events.push('lost'),
    onGiveUp: (r) => events.push(`give up ${r}`),
    ...handlers,
  }, { WebSocket: FakeWebSocket, ...timers, random: () => 0.5 });
  return { s, timers, events };
}

test('reconnectDelay doubles from 500 ms to 10 s, with ±20 % jitter', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => reconnectDelay(n, () => 0.5)), [500, 1000, 2000, 4000, 8000, 10000, 10000]);
  assert.equal(reconnectDelay(0, () => 0), 400);
  assert.equal(reconnectDelay(0, () => 1), 600);
});

test('a lost socket reconnects with backoff, reset once the server accepts it', async () => {
  const { s, timers, events } = socket();
  s.start();
  FakeWebSocket.made[0].open();
  FakeWebSocket.made[0].message('hi');
  for (const [i, delay] of [[0, 500], [1, 1000], [2, 2000]]) {
    FakeWebSocket.made[i].drop();
    assert.deepEqual(timers.delays(), [delay]);
    timers.advance(delay - 1);
    await flush();
    assert.equal(FakeWebSocket.made.length, i + 1, 'reconnected before its delay');
    timers.advance(1);
    await flush();
    assert.equal(FakeWebSocket.made.length, i + 2);
  }
  s.accepted();
  FakeWebSocket.made[3].drop();
  assert.deepEqual(timers.delays(), [500]);
  assert.deepEqual(events, ['message hi', 'lost', 'lost', 'lost', 'lost']);
});

test('beforeReconnect gives a reason: the socket gives up and makes no new one', async () => {
  const { s, timers, events } = socket({ beforeReconnect: async () => 'This link is invalid' });
  s.start();
  FakeWebSocket.made[0].drop();
  timers.advance(500);
  await flush();
  assert.equal(FakeWebSocket.made.length, 1);
  assert.deepEqual(events, ['lost', 'give up This link is invalid']);
  assert.deepEqual(timers.delays(), []);
});

test('a failing beforeReconnect reconnects all the same', async () => {
  const { s, timers } = socket({ beforeReconnect: async () => { throw new Error('offline'); } });
  s.start();
  FakeWebSocket.made[0].drop();
  timers.advance(500);
  await flush();
  assert.equal(FakeWebSocket.made.length, 2);
});

test('close stops for good; send only on an open socket', async () => {
  const { s, timers, events } = socket();
  s.start();
  const ws = FakeWebSocket.made[0];
  s.send('early');
  ws.open();
  s.send('now');
  assert.deepEqual(ws.sent, ['now']);
  FakeWebSocket.made[0].drop();
  s.close();
  timers.advance(60000);
  await flush();
  assert.equal(FakeWebSocket.made.length, 1);
  assert.deepEqual(events, ['lost']);
  s.close(); // twice is fine
});

test('onLost may end the session: then nothing is scheduled', () => {
  let s;
  let timers;
  ({ s, timers } = socket({ onLost: () => s.stop() }));
  s.start();
  FakeWebSocket.made[0].drop();
  assert.deepEqual(timers.delays(), []);
});

test("a cluster's nodes: a reconnect that fails moves on to the next node, with the same path", async () => {
  const { s, timers } = socket();
  s.start();
  s.accepted();
  s.setNodes(['http://host', 'http://b:8080', 'https://c', 'javascript:alert(1)', 'not a url']);
  assert.deepEqual(s.urls, ['ws://host/ws/peer?connection=1', 'ws://b:8080/ws/peer?connection=1', 'wss://c/ws/peer?connection=1']);
  const urls = () => FakeWebSocket.made.map((ws) => ws.url);
  FakeWebSocket.made[0].drop(); // an accepted socket lost: its own node first
  timers.advance(500);
  await flush();
  FakeWebSocket.made[1].drop(); // that failed: the next node
  timers.advance(1000);
  await flush();
  FakeWebSocket.made[2].drop();
  timers.advance(2000);
  await flush();
  FakeWebSocket.made[3].drop();
  timers.advance(4000);
  await flush();
  assert.deepEqual(urls(), ['ws://host/ws/peer?connection=1', 'ws://host/ws/peer?connection=1', 'ws://b:8080/ws/peer?connection=1',
    'wss://c/ws/peer?connection=1', 'ws://host/ws/peer?connection=1']);
  s.accepted(); // accepted: a later loss tries the same node again first
  s.setNodes(undefined);
  FakeWebSocket.made[4].drop();
  timers.advance(500);
  await flush();
  assert.equal(FakeWebSocket.made[5].url, 'ws://host/ws/peer?connection=1');
});
