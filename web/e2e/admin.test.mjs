// Unit tests of Settings → Active Sessions and History: the API replies they read
// (web/static/api.js), their texts (history.js) and times (format.js).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ApiError, parseHistory, parseLiveSessions } from '../static/api.js';
import { elapsedText, timeText } from '../static/format.js';
import { pageText, sessionSummary } from '../static/history.js';

test('elapsed times', () => {
  const t0 = Date.UTC(2025, 0, 2, 3, 4, 5);
  assert.equal(elapsedText(t0, t0), '0 s');
  assert.equal(elapsedText(t0, t0 + 42_900), '42 s');
  assert.equal(elapsedText(t0, t0 + 303_000), '5 min 3 s');
  assert.equal(elapsedText(t0, t0 + 3_725_000), '1 h 2 min');
  assert.equal(elapsedText(t0, t0 + 90_061_000), '25 h 1 min');
  assert.equal(elapsedText(new Date(t0), new Date(t0 + 86_400_000)), '1 day');
  assert.equal(elapsedText(t0, t0 - 5000), '0 s');
  assert.equal(elapsedText(new Date('x'), t0), '');
});

test('times read in local time', () => {
  assert.equal(timeText(new Date(2025, 0, 2, 3, 4, 5)), '2025-01-02 03:04:05');
  assert.equal(timeText(new Date(2025, 11, 31, 23, 59, 9)), '2025-12-31 23:59:09');
  assert.equal(timeText(null), '');
  assert.equal(timeText(new Date('nope')), '');
});

test('live sessions are read from GET /api/sessions', () => {
  const got = parseLiveSessions([
    {
      id: 'abc',
      connection: { id: 1, name: 'Demo' },
      owner: 'alice',
      startedAt: '2025-01-02T03:04:05Z',
      participants: [{ name: 'alice', role: 'owner', readOnly: false, connections: 2 }],
    },
    { id: 'def', connection: 'Other', startedAt: 'garbage' },
  ]);
  assert.deepEqual(got, [
    {
      id: 'abc',
      connection: { id: '1', name: 'Demo' },
      owner: 'alice',
      startedAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
      participants: [{ name: 'alice', role: 'owner', readOnly: false, connections: 2 }],
    },
    { id: 'def', connection: { id: '', name: 'Other' }, owner: '', startedAt: null, participants: [] },
  ]);
  for (const bad of [null, {}, [{}], [{ id: '' }], [{ id: 'a', participants: [{ name: 'x', role: 'king', connections: 1 }] }]]) {
    assert.throws(() => parseLiveSessions(bad), ApiError, JSON.stringify(bad));
  }
});

test('history pages are read from GET /api/history', () => {
  const got = parseHistory({
    total: 57,
    sessions: [
      {
        id: 'abc',
        connection: { id: 1, name: 'Demo' },
        owner: 'alice',
        startedAt: '2025-01-02T03:04:05Z',
        endedAt: '2025-01-02T03:34:05Z',
        endReason: 'killed by admin root',
        recording: 12,
        participants: [
          { name: 'alice', role: 'owner', readOnly: false, profile: null, address: '127.0.0.1', joinedAt: '2025-01-02T03:04:05Z', leftAt: '2025-01-02T03:34:05Z' },
          { name: 'Anonymous', role: 'guest', readOnly: true, profile: 'Viewers', address: '::1', joinedAt: '2025-01-02T03:05:00Z', leftAt: null },
          { name: 'bob', role: 'member', profile: { id: 3, name: 'Helpers' }, joinedAt: '2025-01-02T03:06:00Z' },
        ],
      },
      { id: 'live', connection: 'Other', owner: 'bob', startedAt: '2025-01-03T00:00:00Z', endedAt: null, endReason: '', participants: [] },
    ],
  });
  assert.equal(got.total, 57);
  const [s, live] = got.sessions;
  assert.deepEqual(s.connection, { id: '1', name: 'Demo' });
  assert.equal(s.endReason, 'killed by admin root');
  assert.equal(s.recording, '12');
  assert.equal(live.recording, '');
  assert.equal(s.endedAt.toISOString(), '2025-01-02T03:34:05.000Z');
  assert.deepEqual(
    s.participants.map((p) => [p.name, p.role, p.readOnly, p.profile, p.address, p.joinedAt.toISOString(), p.leftAt?.toISOString() ?? null]),
    [
      ['alice', 'owner', false, '', '127.0.0.1', '2025-01-02T03:04:05.000Z', '2025-01-02T03:34:05.000Z'],
      ['Anonymous', 'guest', true, 'Viewers', '::1', '2025-01-02T03:05:00.000Z', null],
      ['bob', 'member', false, 'Helpers', '', '2025-01-02T03:06:00.000Z', null],
    ],
  );
  assert.deepEqual(live.connection, { id: '', name: 'Other' });
  assert.equal(live.endedAt, null);
  for (const bad of [null, [], { total: 1 }, { total: -1, sessions: [] }, { total: 1, sessions: [{}] }, { total: 1, sessions: [{ id: 'a', participants: [{}] }] }]) {
    assert.throws(() => parseHistory(bad), ApiError, JSON.stringify(bad));
  }
});

test('history texts', () => {
  assert.equal(pageText(0, 0, 0), 'No sessions yet.');
  assert.equal(pageText(0, 20, 57), '1–20 of 57');
  assert.equal(pageText(40, 17, 57), '41–57 of 57');
  const start = new Date(2025, 0, 2, 3, 4, 5);
  const end = new Date(2025, 0, 2, 3, 34, 5);
  assert.equal(
    sessionSummary({ owner: 'alice', startedAt: start, endedAt: end, endReason: 'The session has ended' }),
    'owner alice · started 2025-01-02 03:04:05 · ended 2025-01-02 03:34:05 (30 min) · The session has ended',
  );
  assert.equal(sessionSummary({ owner: 'bob', startedAt: start, endedAt: null, endReason: '' }), 'owner bob · started 2025-01-02 03:04:05 · live');
});

// The ids and classes the relay, the Go tests and the driver rely on (the issue 4 contract).
test('index.html has the presence and admin elements', async () => {
  const html = await readFile(new URL('../static/index.html', import.meta.url), 'utf8');
  for (const id of ['toasts', 'presence-count', 'presence-tooltip', 'participants', 'tab-sessions', 'tab-history', 'live-sessions', 'history', 'history-csv']) {
    assert.match(html, new RegExp(`id="${id}"`), id);
  }
  assert.match(html, /<a id="history-csv" href="\/api\/history\.csv"[^>]*>Export CSV<\/a>/);
});
