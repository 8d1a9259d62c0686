// Unit tests of presence (web/static/presence.js): parsing the relay's presence message, the
// texts of the indicator, tooltip and toasts, and the stacking of toasts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_IDENTITIES, ToastStack, countText, otherIdentities, parsePresence, toastTexts } from '../static/presence.js';
import { ProtocolError } from '../static/protocol.js';

const alice = { name: 'alice', role: 'owner', readOnly: false, connections: 2 };
const bob = { name: 'bob', role: 'member', readOnly: false, connections: 1 };
const anon = { name: 'Anonymous', role: 'guest', readOnly: true, connections: 3 };

test('a presence message is parsed and checked', () => {
  const m = { type: 'presence', seq: 7, participants: [anon, alice], joined: [anon], left: [{ ...bob, connections: 0 }] };
  assert.deepEqual(parsePresence(m), { seq: 7, participants: [anon, alice], joined: [anon], left: [{ ...bob, connections: 0 }] });
  // A snapshot may omit joined and left; unknown fields are dropped; readOnly defaults to false.
  assert.deepEqual(parsePresence({ seq: 0, participants: [{ name: 'bob', role: 'member', connections: 1, extra: 1 }] }), {
    seq: 0,
    participants: [bob],
    joined: [],
    left: [],
  });
  const bad = [
    { participants: [] },
    { seq: -1, participants: [] },
    { seq: 1.5, participants: [] },
    { seq: 1 },
    { seq: 1, participants: {} },
    { seq: 1, participants: [null] },
    { seq: 1, participants: [{ ...alice, name: '' }] },
    { seq: 1, participants: [{ ...alice, name: 5 }] },
    { seq: 1, participants: [{ ...alice, name: 'x'.repeat(300) }] },
    { seq: 1, participants: [{ ...alice, role: 'admin' }] },
    { seq: 1, participants: [{ ...alice, connections: 0 }] },
    { seq: 1, participants: [{ ...alice, connections: '2' }] },
    { seq: 1, participants: [], joined: [{ ...alice, connections: 0 }] },
    { seq: 1, participants: [], left: [{ ...alice, connections: -1 }] },
    { seq: 1, participants: Array.from({ length: MAX_IDENTITIES + 1 }, (_, i) => ({ ...bob, name: `u${i}` })) },
  ];
  for (const m of bad) assert.throws(() => parsePresence(m), ProtocolError, JSON.stringify(m).slice(0, 80));
});

test('identity lines', () => {
  assert.equal(countText(alice), 'alice (2)');
  assert.equal(countText(anon), 'Anonymous (3)');
  assert.deepEqual(otherIdentities([anon, alice, bob], 'alice'), [anon, bob]);
  assert.deepEqual(otherIdentities([anon, bob], 'alice'), [anon, bob]);
  assert.deepEqual(otherIdentities([alice], 'alice'), []);
});

test('toasts name others who joined and left, never the viewer', () => {
  const change = { joined: [anon, { ...alice, connections: 3 }, bob], left: [{ ...bob, name: 'carol', connections: 0 }, { ...alice, connections: 1 }] };
  assert.deepEqual(toastTexts(change, 'alice'), ['Anonymous joined', 'bob joined', 'carol left']);
  // A guest viewer shares the identity Anonymous: other guests come and go silently for it.
  assert.deepEqual(toastTexts(change, 'Anonymous'), ['alice joined', 'bob joined', 'carol left', 'alice left']);
  assert.deepEqual(toastTexts({ joined: [], left: [] }, 'alice'), []);
});

test('toasts stack up to a limit and expire in order', () => {
  const s = new ToastStack({ max: 3, ttl: 5000 });
  assert.equal(s.nextExpiry(), null);
  const a = s.add('a joined', 1000);
  assert.deepEqual(a.dropped, []);
  assert.equal(a.toast.expires, 6000);
  s.add('b joined', 2000);
  s.add('c joined', 3000);
  assert.deepEqual(s.entries.map((t) => t.text), ['a joined', 'b joined', 'c joined']);
  const d = s.add('d joined', 4000);
  assert.deepEqual(d.dropped.map((t) => t.text), ['a joined']);
  assert.deepEqual(s.entries.map((t) => t.text), ['b joined', 'c joined', 'd joined']);
  assert.ok(new Set(s.entries.map((t) => t.id)).size === 3, 'ids are unique');
  assert.equal(s.nextExpiry(), 7000);
  assert.deepEqual(s.expire(6999), []);
  assert.deepEqual(s.expire(8000).map((t) => t.text), ['b joined', 'c joined']);
  assert.equal(s.nextExpiry(), 9000);
  assert.deepEqual(s.expire(20000).map((t) => t.text), ['d joined']);
  assert.equal(s.nextExpiry(), null);
  s.add('e left', 0);
  assert.deepEqual(s.clear().map((t) => t.text), ['e left']);
  assert.deepEqual(s.entries, []);
});
