// Unit tests of the input helpers (web/static/input.js) that need no DOM.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPasteKey, WheelSteps, wireButtons } from '../static/input.js';

test('DOM buttons map to wire buttons', () => {
  assert.equal(wireButtons(0), 0);
  assert.equal(wireButtons(1), 1); // left
  assert.equal(wireButtons(2), 4); // right
  assert.equal(wireButtons(4), 2); // middle
  assert.equal(wireButtons(7), 7);
  assert.equal(wireButtons(8 | 16), 0); // back, forward
});

test('wheel notches and touchpad scrolling', () => {
  const w = new WheelSteps();
  assert.equal(w.add(100, 0), 1);
  assert.equal(w.add(120, 0), 1);
  assert.equal(w.add(-100, 0), -1);
  assert.equal(w.add(360, 0), 3);
  assert.equal(w.add(3, 1), 1);
  assert.equal(w.add(1, 2), 7);
  assert.equal(w.add(0, 0), 0);
  const t = new WheelSteps();
  const steps = Array.from({ length: 10 }, () => t.add(20, 0));
  assert.deepEqual(steps, [0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  assert.equal(t.add(-20, 0), 0); // a change of direction starts over
  assert.equal(t.add(-90, 0), -1);
});

test('the paste shortcuts are recognised', () => {
  const k = (key, mods = {}) => ({ key, code: '', altKey: false, ctrlKey: false, metaKey: false, shiftKey: false, ...mods });
  assert.equal(isPasteKey(k('v', { ctrlKey: true, code: 'KeyV' })), true);
  assert.equal(isPasteKey(k('V', { ctrlKey: true, shiftKey: true })), true);
  assert.equal(isPasteKey(k('v', { metaKey: true })), true);
  assert.equal(isPasteKey(k('Insert', { shiftKey: true })), true);
  assert.equal(isPasteKey(k('v')), false);
  assert.equal(isPasteKey(k('v', { ctrlKey: true, altKey: true })), false);
  assert.equal(isPasteKey(k('c', { ctrlKey: true, code: 'KeyC' })), false);
  assert.equal(isPasteKey(k('Insert', { shiftKey: true, ctrlKey: true })), false);
});
