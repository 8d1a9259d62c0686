// A long-running Chromium driver for the Go end-to-end tests. It reads one JSON command
// per line on stdin and writes exactly one JSON reply line per command on stdout:
// {"ok":true,...} or {"ok":false,"error":"..."}. Everything else (page console, page
// errors, driver diagnostics) goes to stderr. The first line on stdout is
// {"ok":true,"ready":true} once the browser runs. Every command has a timeout: 15 s, or
// its "timeout" field in milliseconds. Commands take an optional "page" name ("main").
//
//   open {url}                 new page (replacing one of the same name), go to url
//   login {username,password}  fill the login form, submit, wait for the connection list
//                              (or the session a deep link named) -> {view}
//   openConnection {name}      click the connection, wait for "connected" and a frame
//   state                      -> {state, frames, width, height}
//   waitFrames {min}           wait until at least min frames were applied
//   waitState {state}          wait until #state has that data-state
//   pixels {points:[[x,y]..]}  -> {pixels:[[r,g,b]..]} at desktop coordinates
//   snapshot {path}            save the canvas at desktop resolution as PNG
//   click {x,y}                real mouse click at desktop pixel x,y
//   drag {from:[x,y],to:[x,y]} mouse down, move in steps, up
//   wheel {x,y,dx,dy}          wheel notches (positive dy scrolls down) at desktop pixel x,y
//   type {text} / press {key}  keyboard (type sends key events only for US-layout characters)
//   screenshot {path}          page screenshot
//   eval {js}                  -> {value} of a page expression (debugging)
//   close                      close the browser and exit 0 (so does EOF on stdin)

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const DEFAULT_TIMEOUT_MS = 15000;
const DRAG_STEPS = 10;
const WHEEL_NOTCH_PX = 100; // one mouse-wheel notch in Chromium, a wheel step to the page
const STATES = new Set(['connecting', 'connected', 'host-unavailable', 'ended', 'disconnected']);

const log = (...args) => console.error('[driver]', ...args);
const reply = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const profile = await mkdtemp(join(tmpdir(), 'peerdesk-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ],
  });
} catch (err) {
  reply({ ok: false, error: `launch: ${err.message}` });
  await rm(profile, { recursive: true, force: true });
  process.exit(1);
}

const pages = new Map();
let done = false; // set by the close command

function page(cmd) {
  const name = cmd.page ?? 'main';
  const p = pages.get(name);
  if (!p) throw new Error(`no page "${name}": open it first`);
  return p;
}

function point(v, what) {
  if (!Array.isArray(v) || v.length !== 2 || !v.every(Number.isFinite)) throw new Error(`${what} must be [x, y]`);
  return v;
}

// Page coordinates of the centre of desktop pixel x,y.
async function pagePoint(p, x, y) {
  const r = await p.$eval('#desktop', (c) => {
    const b = c.getBoundingClientRect();
    return { left: b.left, top: b.top, w: b.width, h: b.height, cw: c.width, ch: c.height };
  });
  if (!(x >= 0 && y >= 0 && x < r.cw && y < r.ch)) throw new Error(`point ${x},${y} outside the ${r.cw}x${r.ch} desktop`);
  return { x: r.left + ((x + 0.5) * r.w) / r.cw, y: r.top + ((y + 0.5) * r.h) / r.ch };
}

function readState(p) {
  return p.$eval('#desktop', (c) => ({
    state: document.getElementById('state').dataset.state,
    frames: Number(c.dataset.frames),
    width: Number(c.dataset.width),
    height: Number(c.dataset.height),
  }));
}

function waitFrames(p, min, timeout) {
  return p.waitForFunction((n) => Number(document.getElementById('desktop')?.dataset.frames) >= n, min, { timeout });
}

function waitState(p, state, timeout) {
  if (!STATES.has(state)) throw new Error(`unknown state "${state}"`);
  return p.waitForSelector(`#state[data-state="${state}"]`, { state: 'attached', timeout });
}

const commands = {
  async open(cmd) {
    const name = cmd.page ?? 'main';
    await pages.get(name)?.close();
    const p = await context.newPage();
    pages.set(name, p);
    p.on('console', (m) => console.error(`[${name} console.${m.type()}] ${m.text()}`));
    p.on('pageerror', (err) => console.error(`[${name} pageerror] ${err.message}`));
    await p.goto(cmd.url, { timeout: cmd.timeout });
    return {};
  },

  async login(cmd) {
    const p = page(cmd);
    await p.fill('#username', String(cmd.username ?? ''), { timeout: cmd.timeout });
    await p.fill('#password', String(cmd.password ?? ''), { timeout: cmd.timeout });
    await p.click('#login-form button[type=submit]', { timeout: cmd.timeout });
    // Logging in leads to the connection list, or back to the session a deep link named.
    const outcome = await p.waitForFunction(
      () => {
        const shown = (id) => !document.getElementById(id).hidden;
        if (shown('view-list') && document.getElementById('connection-list').dataset.loaded) return { view: 'list' };
        if (shown('view-session')) return { view: 'session' };
        const err = document.getElementById('login-error').textContent;
        return err ? { error: err } : false;
      },
      null,
      { timeout: cmd.timeout },
    );
    const v = await outcome.jsonValue();
    if (v.error) throw new Error(`login refused: ${v.error}`);
    return v;
  },

  async openConnection(cmd) {
    const p = page(cmd);
    await p.locator('.connection', { hasText: String(cmd.name ?? '') }).first().click({ timeout: cmd.timeout });
    await waitState(p, 'connected', cmd.timeout);
    await waitFrames(p, 1, cmd.timeout);
    return readState(p);
  },

  async state(cmd) {
    return readState(page(cmd));
  },

  async waitFrames(cmd) {
    const p = page(cmd);
    await waitFrames(p, Number(cmd.min ?? 1), cmd.timeout);
    return readState(p);
  },

  async waitState(cmd) {
    const p = page(cmd);
    await waitState(p, cmd.state, cmd.timeout);
    return readState(p);
  },

  async pixels(cmd) {
    if (!Array.isArray(cmd.points)) throw new Error('points must be a list of [x, y]');
    const points = cmd.points.map((v) => point(v, 'each point'));
    const out = await page(cmd).$eval(
      '#desktop',
      (c, pts) => {
        const ctx = c.getContext('2d');
        return pts.map(([x, y]) => {
          if (!(x >= 0 && y >= 0 && x < c.width && y < c.height)) return `point ${x},${y} outside ${c.width}x${c.height}`;
          const d = ctx.getImageData(Math.floor(x), Math.floor(y), 1, 1).data;
          return [d[0], d[1], d[2]];
        });
      },
      points,
    );
    const bad = out.find((v) => typeof v === 'string');
    if (bad) throw new Error(bad);
    return { pixels: out };
  },

  async snapshot(cmd) {
    if (typeof cmd.path !== 'string' || cmd.path === '') throw new Error('path is required');
    const url = await page(cmd).$eval('#desktop', (c) => c.toDataURL('image/png'));
    await writeFile(cmd.path, Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
    return {};
  },

  async click(cmd) {
    const p = page(cmd);
    const at = await pagePoint(p, cmd.x, cmd.y);
    await p.mouse.click(at.x, at.y);
    return {};
  },

  async drag(cmd) {
    const p = page(cmd);
    const [fx, fy] = point(cmd.from, 'from');
    const [tx, ty] = point(cmd.to, 'to');
    const from = await pagePoint(p, fx, fy);
    const to = await pagePoint(p, tx, ty);
    await p.mouse.move(from.x, from.y);
    await p.mouse.down();
    await p.mouse.move(to.x, to.y, { steps: DRAG_STEPS });
    await p.mouse.up();
    return {};
  },

  async wheel(cmd) {
    const p = page(cmd);
    const at = await pagePoint(p, cmd.x, cmd.y);
    await p.mouse.move(at.x, at.y);
    await p.mouse.wheel(WHEEL_NOTCH_PX * Number(cmd.dx ?? 0), WHEEL_NOTCH_PX * Number(cmd.dy ?? 0));
    return {};
  },

  async type(cmd) {
    await page(cmd).keyboard.type(String(cmd.text ?? ''));
    return {};
  },

  async press(cmd) {
    await page(cmd).keyboard.press(String(cmd.key ?? ''));
    return {};
  },

  async screenshot(cmd) {
    if (typeof cmd.path !== 'string' || cmd.path === '') throw new Error('path is required');
    await page(cmd).screenshot({ path: cmd.path, timeout: cmd.timeout });
    return {};
  },

  async eval(cmd) {
    return { value: await page(cmd).evaluate(String(cmd.js ?? '')) };
  },

  async close() {
    done = true;
    return {};
  },
};

function withTimeout(promise, ms) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

async function run(line) {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `bad command: ${err.message}` };
  }
  if (cmd === null || typeof cmd !== 'object' || typeof cmd.cmd !== 'string') return { ok: false, error: 'bad command: no "cmd"' };
  const fn = Object.hasOwn(commands, cmd.cmd) ? commands[cmd.cmd] : null;
  if (!fn) return { ok: false, error: `unknown command "${cmd.cmd}"` };
  cmd.timeout = Number.isFinite(cmd.timeout) && cmd.timeout > 0 ? cmd.timeout : DEFAULT_TIMEOUT_MS;
  try {
    return { ok: true, ...(await withTimeout(fn(cmd), cmd.timeout)) };
  } catch (err) {
    return { ok: false, error: `${cmd.cmd}: ${err.message}` };
  }
}

let closing = null;
function shutdown(code) {
  closing ??= (async () => {
    try {
      await context.close();
    } catch (err) {
      log('close:', err.message);
    }
    await rm(profile, { recursive: true, force: true });
    process.exit(code);
  })();
  return closing;
}

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

reply({ ok: true, ready: true });

// Commands run one at a time, in order.
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === '') continue;
  reply(await run(line));
  if (done) break;
}
await shutdown(0);
