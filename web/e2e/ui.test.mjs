// The presence UI and the Settings tabs in real Chromium, through driver.mjs: the page is
// served by a small HTTP server here with a canned admin API (GET /api/me, /api/connections,
// /api/sessions, /api/history, DELETE /api/sessions/{id}), and roster changes are fed to
// the page's PresenceView as the session would feed the relay's presence messages. The Go
// end-to-end tests drive the same commands against the real server and relay.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STATIC = new URL('../static/', import.meta.url);
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

const live = [
  {
    id: 'sess-1',
    connection: { id: 1, name: 'Demo desktop' },
    owner: 'alice',
    startedAt: new Date(Date.now() - 125_000).toISOString(),
    participants: [
      { name: 'alice', role: 'owner', readOnly: false, connections: 2 },
      { name: 'Anonymous', role: 'guest', readOnly: true, connections: 3 },
    ],
  },
  { id: 'sess-2', connection: { id: 2, name: 'Build box' }, owner: 'bob', startedAt: new Date().toISOString(), participants: [] },
];
const ended = Array.from({ length: 25 }, (_, i) => ({
  id: `old-${i}`,
  connection: { id: 1, name: 'Demo desktop' },
  owner: 'alice',
  startedAt: new Date(Date.UTC(2025, 0, 1, 10, 0, 0) - i * 3_600_000).toISOString(),
  endedAt: new Date(Date.UTC(2025, 0, 1, 10, 30, 0) - i * 3_600_000).toISOString(),
  endReason: 'The session has ended',
  recording: i === 0 ? 7 : undefined, // the newest ended one was recorded
  participants: [
    { name: 'alice', role: 'owner', readOnly: false, profile: null, address: '127.0.0.1', joinedAt: '2025-01-01T10:00:00Z', leftAt: '2025-01-01T10:30:00Z' },
    { name: 'Anonymous', role: 'guest', readOnly: true, profile: 'Viewers', address: '127.0.0.2', joinedAt: '2025-01-01T10:05:00Z', leftAt: null },
  ],
}));

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function serve(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const kill = /^\/api\/sessions\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'DELETE' && kill) {
    const i = live.findIndex((s) => s.id === kill[1]);
    if (i < 0) return json(res, 404, { error: 'no such session' });
    live.splice(i, 1);
    res.writeHead(204).end();
    return;
  }
  switch (url.pathname) {
    case '/api/me':
      return json(res, 200, { username: 'root', admin: true });
    case '/api/connections':
      return json(res, 200, []);
    case '/api/sessions':
      return json(res, 200, live);
    case '/api/history': {
      const offset = Number(url.searchParams.get('offset'));
      const limit = Number(url.searchParams.get('limit'));
      const all = [...live.map((s) => ({ ...s, endedAt: null, endReason: '', participants: [] })), ...ended];
      return json(res, 200, { total: all.length, sessions: all.slice(offset, offset + limit) });
    }
  }
  const name = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
  try {
    const body = await readFile(new URL(name, STATIC));
    res.writeHead(200, { 'Content-Type': TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    json(res, 404, { error: 'not found' });
  }
}

let server;
let driver;
let lines;
let base;

async function send(cmd) {
  driver.stdin.write(`${JSON.stringify(cmd)}\n`);
  const { value, done } = await lines.next();
  assert.ok(!done, 'the driver exited');
  return JSON.parse(value);
}

async function ok(cmd) {
  const r = await send(cmd);
  assert.ok(r.ok, `${cmd.cmd}: ${r.error}`);
  return r;
}

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;

before(async () => {
  if (skip) return;
  server = createServer((req, res) => serve(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  driver = spawn(process.execPath, [new URL('./driver.mjs', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  lines = createInterface({ input: driver.stdout })[Symbol.asyncIterator]();
  const ready = JSON.parse((await lines.next()).value);
  assert.ok(ready.ok && ready.ready, JSON.stringify(ready));
  await ok({ cmd: 'open', url: `${base}/#/` });
});

after(async () => {
  if (driver) {
    await send({ cmd: 'close' });
    await new Promise((resolve) => (driver.exitCode === null ? driver.on('exit', resolve) : resolve()));
  }
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

const alice = (n) => ({ name: 'alice', role: 'owner', readOnly: false, connections: n });
const bob = (n) => ({ name: 'bob', role: 'member', readOnly: false, connections: n });
const anon = (n) => ({ name: 'Anonymous', role: 'guest', readOnly: true, connections: n });

// Shows the session view with a fresh PresenceView for the viewer identity.
function startView(identity) {
  return ok({
    cmd: 'eval',
    js: `(async () => {
      const { PresenceView } = await import('/presence.js');
      for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-session';
      window.testPresence?.dispose();
      window.testPresence = new PresenceView();
      window.testPresence.setIdentity(${JSON.stringify(identity)});
    })()`,
  });
}

// Feeds one presence control message, parsed as the session parses it.
function feed(m) {
  return ok({
    cmd: 'eval',
    js: `import('/presence.js').then(({ parsePresence }) => window.testPresence.update(parsePresence(${JSON.stringify({ type: 'presence', ...m })})))`,
  });
}

test('the owner sees toasts, the indicator and its tooltip', { skip }, async () => {
  await startView({ name: 'alice', role: 'owner' });
  await feed({ seq: 1, participants: [alice(1)], joined: [], left: [] });
  assert.deepEqual(await ok({ cmd: 'presence' }).then((r) => [r.count, r.tooltip]), [null, []]);
  assert.deepEqual((await ok({ cmd: 'toasts' })).toasts, []);

  await feed({ seq: 2, participants: [alice(2)], joined: [alice(2)], left: [] }); // the owner's own second tab
  await feed({ seq: 4, participants: [anon(2), alice(2), bob(1)], joined: [anon(2), bob(1)], left: [] });
  const t = await ok({ cmd: 'waitToast', text: 'bob joined' });
  assert.deepEqual(t.toasts, ['Anonymous joined', 'bob joined']);
  const p = await ok({ cmd: 'presence', count: 2 });
  assert.deepEqual([p.count, p.tooltip], [2, ['Anonymous (2)', 'bob (1)']]);
  assert.equal(await ok({ cmd: 'eval', js: `document.getElementById('presence-tooltip').hidden` }).then((r) => r.value), false, 'hovered tooltip shows');
  assert.deepEqual((await ok({ cmd: 'participants' })).participants, [], 'no list for the owner');
  await ok({ cmd: 'screenshot', path: '/tmp/w4/unit-owner.png' });

  await feed({ seq: 5, participants: [anon(1), alice(2)], joined: [], left: [anon(1), bob(0)] });
  await ok({ cmd: 'waitToast', text: 'Anonymous left' });
  assert.deepEqual((await ok({ cmd: 'toasts' })).toasts, ['Anonymous joined', 'bob joined', 'Anonymous left', 'bob left']);
  assert.deepEqual(await ok({ cmd: 'presence', tooltip: ['Anonymous (1)'] }).then((r) => [r.count, r.tooltip]), [1, ['Anonymous (1)']]);

  await feed({ seq: 6, participants: [alice(1)], joined: [], left: [anon(0), alice(1)] });
  assert.deepEqual(await ok({ cmd: 'presence', count: null }).then((r) => [r.count, r.tooltip]), [null, []]);
  assert.deepEqual((await ok({ cmd: 'toasts' })).toasts, ['Anonymous joined', 'bob joined', 'Anonymous left', 'bob left', 'Anonymous left']);
  // A sixth toast pushes the oldest out; all fade within about 5 s.
  await feed({ seq: 7, participants: [alice(1), bob(1)], joined: [bob(1)], left: [] });
  await ok({ cmd: 'presence', count: 1 });
  assert.deepEqual((await ok({ cmd: 'toasts' })).toasts, ['bob joined', 'Anonymous left', 'bob left', 'Anonymous left', 'bob joined']);
  await ok({ cmd: 'eval', js: `new Promise((r) => setTimeout(r, 5300))`, timeout: 8000 });
  assert.deepEqual((await ok({ cmd: 'toasts' })).toasts, []);
});

test('members and guests see the participant list and no toasts', { skip }, async () => {
  await startView({ name: 'Anonymous', role: 'guest' });
  await feed({ seq: 1, participants: [anon(2), alice(1)], joined: [], left: [] });
  await feed({ seq: 2, participants: [anon(2), alice(1), bob(1)], joined: [bob(1)], left: [] });
  const r = await ok({ cmd: 'participants', lines: ['Anonymous (2)', 'alice (1)', 'bob (1)'] });
  assert.deepEqual(r.participants, ['Anonymous (2)', 'alice (1)', 'bob (1)']);
  assert.deepEqual((await ok({ cmd: 'toasts' })).toasts, []);
  assert.equal((await ok({ cmd: 'presence' })).count, null);
  await ok({ cmd: 'screenshot', path: '/tmp/w4/unit-guest.png' });
  await ok({ cmd: 'eval', js: 'window.testPresence.clear()' });
  assert.deepEqual((await ok({ cmd: 'participants' })).participants, []);
  await ok({ cmd: 'eval', js: 'window.testPresence.dispose()' });
});

test('Active Sessions lists, and Kill ends, live sessions', { skip }, async () => {
  const r = await ok({ cmd: 'activeSessions' });
  assert.deepEqual(r.sessions, [
    { id: 'sess-1', connection: 'Demo desktop', owner: 'alice', participants: ['alice (2)', 'Anonymous (3)'] },
    { id: 'sess-2', connection: 'Build box', owner: 'bob', participants: [] },
  ]);
  const duration = await ok({ cmd: 'eval', js: `document.querySelector('.live-session[data-id="sess-1"] .duration').textContent` });
  assert.match(duration.value, /^2 min \d+ s$/);
  await ok({ cmd: 'screenshot', path: '/tmp/w4/unit-sessions.png' });
  await ok({ cmd: 'killSession', id: 'sess-2' });
  assert.deepEqual(live.map((s) => s.id), ['sess-1']);
  assert.deepEqual((await ok({ cmd: 'activeSessions' })).sessions.map((s) => s.id), ['sess-1']);
  const join = await ok({ cmd: 'eval', js: `document.querySelector('.live-session .session-join').click(), location.hash` });
  assert.equal(join.value, '#/session/1');
});

test('History pages through sessions with their participants', { skip }, async () => {
  const r = await ok({ cmd: 'history' });
  assert.equal(r.total, 26);
  assert.equal(r.sessions.length, 20);
  assert.deepEqual(r.sessions[0], { session: 'sess-1', connection: 'Demo desktop', owner: 'alice', recording: '', participants: [] });
  assert.deepEqual(r.sessions[1], {
    session: 'old-0',
    connection: 'Demo desktop',
    owner: 'alice',
    recording: '#/recording/7',
    participants: [
      { name: 'alice', profile: '', address: '127.0.0.1', joined: '2025-01-01T10:00:00.000Z', left: '2025-01-01T10:30:00.000Z', readOnly: false },
      { name: 'Anonymous', profile: 'Viewers', address: '127.0.0.2', joined: '2025-01-01T10:05:00.000Z', left: null, readOnly: true },
    ],
  });
  const page = await ok({ cmd: 'eval', js: `document.getElementById('history-page').textContent` });
  assert.equal(page.value, '1–20 of 26');
  await ok({ cmd: 'screenshot', path: '/tmp/w4/unit-history.png' });
  await ok({ cmd: 'eval', js: `document.getElementById('history-older').click()` });
  const older = await ok({ cmd: 'eval', js: `new Promise((resolve) => { const t = setInterval(() => { const p = document.getElementById('history-page').textContent; if (p.startsWith('21')) { clearInterval(t); resolve([p, document.querySelectorAll('#history .history-row').length, document.getElementById('history-older').disabled]); } }, 20); })` });
  assert.deepEqual(older.value, ['21–26 of 26', 6, true]);
  const csv = await ok({ cmd: 'eval', js: `document.getElementById('history-csv').getAttribute('href')` });
  assert.equal(csv.value, '/api/history.csv');
});
