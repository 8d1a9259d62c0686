// Unit tests of the Settings view's helpers (web/static/settings.js) and the connection
// menu's shortcut (web/static/menu.js).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { guestsText, isMenuCombo } from '../static/menu.js';
import { durationText } from '../static/format.js';
import { LIFETIMES, cloneName, parseMaxGuests, profileSummary } from '../static/settings.js';

test('durations read naturally', () => {
  assert.equal(durationText(0), '0 s');
  assert.equal(durationText(90), '1 min 30 s');
  assert.equal(durationText(900), '15 min');
  assert.equal(durationText(3600), '1 h');
  assert.equal(durationText(5400), '1 h 30 min');
  assert.equal(durationText(86400), '1 day');
  assert.equal(durationText(604800), '7 days');
  assert.equal(durationText(2592000), '30 days');
});

test('the maximum-guests field', () => {
  assert.deepEqual(parseMaxGuests(''), { value: 0 });
  assert.deepEqual(parseMaxGuests('  '), { value: 0 });
  assert.deepEqual(parseMaxGuests('1'), { value: 1 });
  assert.deepEqual(parseMaxGuests(' 1000 '), { value: 1000 });
  for (const bad of ['0', '1001', '-1', '2.5', '1e3', 'ten', '0x10']) assert.ok(parseMaxGuests(bad).error, bad);
});

test('clone names', () => {
  assert.equal(cloneName('Viewers', 1), 'Viewers (copy)');
  assert.equal(cloneName('Viewers', 2), 'Viewers (copy) 2');
  assert.equal(cloneName('Viewers', 3), 'Viewers (copy) 3');
});

test('profile summaries', () => {
  assert.equal(profileSummary({ readOnly: true, linkLifetime: 3600, maxGuests: 5 }), 'read only · links last 1 h · at most 5 per link');
  assert.equal(profileSummary({ readOnly: false, linkLifetime: 0, maxGuests: 0 }), 'full access · links last the session · unlimited guests');
});

// index.html lists the lifetimes for a page without scripts' help; both lists must agree.
test('the lifetime options of index.html are LIFETIMES', async () => {
  const html = await readFile(new URL('../static/index.html', import.meta.url), 'utf8');
  const select = /<select id="profile-lifetime">([\s\S]*?)<\/select>/.exec(html);
  assert.ok(select, 'no #profile-lifetime select');
  const options = [...select[1].matchAll(/<option value="(\d+)">([^<]*)<\/option>/g)].map((m) => [Number(m[1]), m[2]]);
  assert.deepEqual(options, LIFETIMES.map(([s, t]) => [s, t]));
});

test('the menu shortcut', () => {
  const ev = (key, mods) => ({ key, ctrlKey: false, shiftKey: false, metaKey: false, altKey: false, ...mods });
  const all = { ctrlKey: true, shiftKey: true };
  assert.ok(isMenuCombo(ev('Meta', { ...all, metaKey: true })));
  assert.ok(isMenuCombo(ev('Shift', { ...all, metaKey: true })));
  assert.ok(isMenuCombo(ev('Control', { ...all, altKey: true })));
  assert.ok(isMenuCombo(ev('Alt', { ...all, altKey: true })));
  assert.ok(!isMenuCombo(ev('Shift', { ctrlKey: true, shiftKey: true })), 'Ctrl+Shift alone');
  assert.ok(!isMenuCombo(ev('Alt', { ctrlKey: true, altKey: true })), 'Ctrl+Alt alone');
  assert.ok(!isMenuCombo(ev('a', { ...all, altKey: true })), 'a letter with the modifiers');
  assert.ok(!isMenuCombo(ev('Meta', { shiftKey: true, metaKey: true, altKey: true })), 'no Control');
});

test('guest counts', () => {
  assert.equal(guestsText(0), '0 guests');
  assert.equal(guestsText(1), '1 guest');
  assert.equal(guestsText(12), '12 guests');
});
