// Unit tests of the display's bounded job queue (web/static/queue.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderedQueue } from '../static/queue.js';

test('jobs run in order, one at a time', async () => {
  const q = new OrderedQueue(100);
  const log = [];
  let running = 0;
  for (const [i, ms] of [[1, 5], [2, 0], [3, 1]]) {
    assert.equal(q.add(10, async () => {
      running++;
      assert.equal(running, 1);
      await new Promise((r) => setTimeout(r, ms));
      log.push(i);
      running--;
    }), true);
  }
  await q.idle();
  assert.deepEqual(log, [1, 2, 3]);
  assert.equal(q.bytes, 0);
});

test('the backlog is bounded and can be dropped', async () => {
  const q = new OrderedQueue(25);
  const ran = [];
  let release, started;
  const gate = new Promise((r) => (release = r));
  const aStarted = new Promise((r) => (started = r));
  assert.equal(q.add(10, async () => { started(); await gate; ran.push('a'); }), true);
  assert.equal(q.add(10, async () => ran.push('b')), true);
  assert.equal(q.add(10, async () => ran.push('c')), false, 'past the limit');
  await aStarted;
  q.drop(); // 'a' is running and finishes; 'b' never runs
  assert.equal(q.bytes, 0);
  assert.equal(q.add(10, async () => ran.push('d')), true);
  release();
  await q.idle();
  assert.deepEqual(ran, ['a', 'd']);
  assert.equal(q.bytes, 0);
});

test('a failing job does not stop the queue', async () => {
  const q = new OrderedQueue(100);
  const ran = [];
  q.add(1, async () => { throw new Error('boom'); });
  q.add(1, async () => ran.push('after'));
  await q.idle();
  assert.deepEqual(ran, ['after']);
});
