// Unit tests of the share-URL helpers (web/static/share.js) and of the session a hello names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SHARED_ROUTE, forgetShareKey, shareKeyFromPath, takeShareKey } from '../static/share.js';
import { helloSession } from '../static/session.js';

const KEY = 'A-_b'.repeat(10) + 'xyz'; // 43 characters, as the server makes them

class Storage {
  constructor() {
    this.m = new Map();
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.m.set(k, String(v));
  }
  removeItem(k) {
    this.m.delete(k);
  }
}

test('share keys are read from /s/ paths only', () => {
  assert.equal(shareKeyFromPath(`/s/${KEY}`), KEY);
  assert.equal(shareKeyFromPath(`/s/${KEY}/`), KEY);
  for (const p of ['/', '/index.html', '/settings', '', undefined, `/x/s/${KEY}`]) assert.equal(shareKeyFromPath(p), '', p);
  for (const p of ['/s/', '/s/short', `/s/${KEY}%20`, `/s/${KEY}/more`, `/s/${'a'.repeat(129)}`, '/s/abc.def.ghi.jkl.mno']) {
    assert.equal(shareKeyFromPath(p), null, p);
  }
});

test('the key moves from the address bar into storage and survives a reload', () => {
  const storage = new Storage();
  const replaced = [];
  const replace = (url) => replaced.push(url);
  assert.equal(takeShareKey(`/s/${KEY}`, storage, replace), KEY);
  assert.deepEqual(replaced, [`/${SHARED_ROUTE}`]);
  assert.ok(!replaced[0].includes(KEY));
  // The reload of /#/shared finds the key in this tab's storage, and replaces nothing.
  assert.equal(takeShareKey('/', storage, replace), KEY);
  assert.equal(replaced.length, 1);
  // A bad key on a share path replaces the address and forgets the stored key.
  assert.equal(takeShareKey('/s/bad', storage, replace), null);
  assert.equal(replaced.length, 2);
  assert.equal(takeShareKey('/', storage, replace), '');
  takeShareKey(`/s/${KEY}`, storage, replace);
  forgetShareKey(storage);
  assert.equal(takeShareKey('/', storage, replace), '');
});

test('hello names the live session', () => {
  assert.deepEqual(helloSession({ session: { id: 'abc', connection: { id: 7, name: 'Demo' } } }), {
    id: 'abc',
    connection: { id: '7', name: 'Demo' },
    recording: false,
  });
  assert.deepEqual(helloSession({ session: { id: 'abc', recording: true } }), { id: 'abc', connection: { id: '', name: '' }, recording: true });
  for (const m of [{}, null, { session: null }, { session: { id: '' } }, { session: { id: 5 } }]) assert.equal(helloSession(m), null);
});

test("a guest's name is kept for the tab, trimmed and bounded, and forgotten with the key", async () => {
  const { guestName, setGuestName, forgetShareKey, MAX_GUEST_NAME } = await import('../static/share.js');
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
  assert.equal(guestName(storage), null);
  assert.equal(setGuestName(storage, '  Ana  '), 'Ana');
  assert.equal(guestName(storage), 'Ana');
  assert.equal(setGuestName(storage, 'é'.repeat(40)), 'é'.repeat(MAX_GUEST_NAME));
  assert.equal(setGuestName(storage, ''), '');
  assert.equal(guestName(storage), '');
  forgetShareKey(storage);
  assert.equal(guestName(storage), null);
});
