// A long-running Chromium driver for the Go end-to-end tests. It reads one JSON command
// per line on stdin and writes exactly one JSON reply line per command on stdout:
// {"ok":true,...} or {"ok":false,"error":"..."}. Everything else (page console, page
// errors, driver diagnostics) goes to stderr. The first line on stdout is
// {"ok":true,"ready":true} once the browser runs. Every command has a timeout: 15 s, or
// its "timeout" field in milliseconds. Commands take an optional "page" name ("main").
// Pages live in browser contexts (separate cookie jars): "main" unless open or openShare
// names another with "context" (e.g. "guest", a visitor with no cookies).
//
//   open {url, context}        new page (replacing one of the same name), go to url
//   login {username,password}  fill the login form, submit, wait for the connection list
//                              (or the session or settings a deep link named) -> {view}
//   openConnection {name}      click the connection, wait for "connected" and a frame
//   state                      -> {state, frames, width, height}
//   waitFrames {min}           wait until at least min frames were applied
//   waitState {state}          wait until #state has that data-state
//   pixels {points:[[x,y]..], canvas}  -> {pixels:[[r,g,b]..]} at desktop coordinates of the
//                              canvas (a selector; #desktop unless given)
//   snapshot {path}            save the canvas at desktop resolution as PNG
//   click {x,y}                real mouse click at desktop pixel x,y
//   drag {from:[x,y],to:[x,y]} mouse down, move in steps, up
//   wheel {x,y,dx,dy}          wheel notches (positive dy scrolls down) at desktop pixel x,y
//   type {text} / press {key}  keyboard (type sends key events only for US-layout characters)
//   screenshot {path}          page screenshot
//   eval {js}                  -> {value} of a page expression (debugging)
//   stateText                  -> {state, text}: #state's data-state and text
//   menu {combo}               press Control+Shift+Meta ("alt": Control+Alt+Shift) and wait
//                              for the connection menu -> {userMenu, sharingMenu, profiles}
//   share {profile}            in the open menu, make a link of that profile -> {url,
//                              passcode} (passcode '' for a link without one)
//   links                      -> {links: [{id, profile, guests, revoked}]} listed in the open
//                              menu after its next refresh (within about 3 s)
//   revoke {id}                revoke that link in the menu, wait for it to show revoked
//   openShare {url, context, name, passcode}  open a share URL (page "main" unless named);
//                              a guest is asked for a name first and gives name ('' for none),
//                              and anyone for the link's passcode if it has one; wait for the
//                              desktop -> {state...}, or for the invalid view or page ->
//                              {invalid: true, text}, or -> {refused} with the form's error
//                              (a wrong passcode), or -> {waiting: true} in a waiting room
//   settingsNewProfile {connection, name, readOnly, lifetime, maxGuests, passcode, singleUse,
//                      admit, askControl}
//                              in #/settings, create a sharing profile of the connection
//                              (by name) -> {id}; a refused save fails with the field errors
//   settingsEditProfile {connection, profile, name, readOnly, lifetime, maxGuests}
//                              change the given fields of a profile (by name) -> {id}
//   settingsCloneProfile {connection, profile}  -> {id, name} of the copy
//   settingsDeleteProfile {connection, profile}
//   toasts                     -> {toasts: [text]}: the join/leave toasts now shown
//   waitToast {text}           wait until a toast with exactly that text is shown -> {toasts}
//   presence {count, tooltip}  -> {count, tooltip: [line]}: the owner's indicator (count null
//                              while hidden) and, hovering it, its tooltip ("alice (2)");
//                              given count (null for hidden) or tooltip, waits for them first
//   participants {lines}       -> {participants: [line]} of the participant list ([] while
//                              hidden); given lines, waits until the list is exactly those
//   activeSessions             Settings → Active Sessions (navigating there), after its next
//                              refresh -> {sessions: [{id, connection, owner, participants}]}
//   joinSession {id}           click Join on that live session, wait for connected and a frame
//   killSession {id}           click Kill (and confirm) on it, wait for its row to go
//   history                    Settings → History (navigating there or refreshing it), first
//                              page -> {total, sessions: [{session, connection, owner,
//                              recording (its player's link, '' for none),
//                              participants: [{name, profile, address, joined, left, readOnly}]}]}
//                              (joined and left as RFC 3339, left null while present)
//   paste {text}               put text on the browser's clipboard and press Control+V on
//                              the page: a real paste
//   hostClipboard {text, copy} -> {text}: the host clipboard the page holds ('' for none);
//                              given text, waits for it first; with copy, clicks the
//                              "Host clipboard" button and adds {copied}: the local
//                              clipboard's text then
//   cursor {visible}           -> {visible, width, height, hotspot: [x, y], pointer}: the
//                              drawn cursor shape (0x0 for none), whether it shows, and
//                              the browser pointer's CSS cursor over the canvas; given
//                              visible, waits until it is so
//   iceStats                   -> {localType, remoteType, iceState}: the candidate types of the
//                              selected pair of the page's current peer connection ("host",
//                              "srflx", "prflx", "relay"); fails while none is selected
//   link {visible, rated}      -> {visible, text, title}: the "slow connection" indicator;
//                              given visible, waits until it is shown (true) or hidden;
//                              rated: until it is shown with the measured rate
//   close                      close the browser and exit 0 (so does EOF on stdin)
// and the commands of driver_users.mjs (users, userCreate, userSet, userReset, userDelete,
// changePassword, handoff, waiting, admit, hover, pointers).

import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { userCommands } from './driver_users.mjs';

const DEFAULT_TIMEOUT_MS = 15000;
const DRAG_STEPS = 10;
const WHEEL_NOTCH_PX = 100; // one mouse-wheel notch in Chromium, a wheel step to the page
// Pages in the background get no animation frames, Playwright's default polling: poll on a timer.
const POLL_MS = 50;
const STATES = new Set(['connecting', 'connected', 'host-unavailable', 'ended', 'disconnected']);

const log = (...args) => console.error('[driver]', ...args);
const reply = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

let browser;
try {
  browser = await chromium.launch({
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
  process.exit(1);
}

const contexts = new Map(); // name → BrowserContext, each with its own cookies and storage
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
  return p.waitForFunction((n) => Number(document.getElementById('desktop')?.dataset.frames) >= n, min, { timeout, polling: POLL_MS });
}

function waitState(p, state, timeout) {
  if (!STATES.has(state)) throw new Error(`unknown state "${state}"`);
  return p.waitForSelector(`#state[data-state="${state}"]`, { state: 'attached', timeout });
}

// Runs in every page before its scripts: records the peer connections the page makes, for
// iceStats. The page's RTCPeerConnection behaves as before.
function trackPeerConnections() {
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  const made = [];
  Object.defineProperty(window, '__peerConnections', { value: made });
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      made.push(this);
    }
  };
}

async function context(name) {
  if (typeof name !== 'string' || name === '') throw new Error('context must be a name');
  let c = contexts.get(name);
  if (!c) {
    c = await browser.newContext();
    await c.addInitScript(trackPeerConnections);
    contexts.set(name, c);
  }
  return c;
}

// Opens a new page named cmd.page (replacing one of that name) in context cmd.context and
// goes to cmd.url.
async function newPage(cmd) {
  const name = cmd.page ?? 'main';
  await pages.get(name)?.close();
  pages.delete(name);
  const p = await (await context(cmd.context ?? 'main')).newPage();
  pages.set(name, p);
  p.on('console', (m) => console.error(`[${name} console.${m.type()}] ${m.text()}`));
  p.on('pageerror', (err) => console.error(`[${name} pageerror] ${err.message}`));
  await p.goto(String(cmd.url ?? ''), { timeout: cmd.timeout });
  return p;
}

// The connection menu of page p; it must be open.
async function openMenu(p, timeout) {
  const menu = p.locator('#connection-menu[data-ready]');
  await menu.waitFor({ state: 'visible', timeout });
  return menu;
}

// Goes to the settings view and expands the row of the connection named name (once its
// profiles are loaded); returns the row.
async function settingsRow(p, name, timeout) {
  if (!(await p.locator('#panel-connections').isVisible())) {
    await p.evaluate(() => (location.hash = '#/settings'));
  }
  await p.locator('#settings-connections[data-loaded]').waitFor({ state: 'attached', timeout });
  const row = p.locator('.settings-connection').filter({ has: p.locator('.row .name', { hasText: exactly(name) }) });
  if ((await row.count()) !== 1) throw new Error(`${await row.count()} connections named "${name}"`);
  const expand = row.locator('.expand');
  if ((await expand.getAttribute('aria-expanded')) !== 'true') await expand.click({ timeout });
  await row.locator('.profile-list[data-loaded]').waitFor({ state: 'attached', timeout });
  return row;
}

// Goes to the settings tab at hash (unless shown) and waits for a rendering of the list
// element listId (counted in its data-loads): with fresh, one newer than any before this
// call (when the tab was already shown, refresh, if given, asks for one); else any.
async function settingsTab(p, hash, listId, { refresh = null, fresh = true, timeout }) {
  const before = await p.evaluate(
    ([h, id]) => (location.hash === h ? Number(document.getElementById(id).dataset.loads ?? 0) : -1),
    [hash, listId],
  );
  if (before < 0) await p.evaluate((h) => (location.hash = h), hash);
  else if (refresh && fresh) await p.click(refresh, { timeout });
  await p.waitForFunction(
    ([id, n]) => Number(document.getElementById(id).dataset.loads ?? 0) > n,
    [listId, fresh ? Math.max(before, 0) : 0],
    { timeout, polling: POLL_MS },
  );
}

// Reads the presence indicator: {count, tooltip} with the tooltip's lines as rendered.
function readPresence(p) {
  return p.evaluate(() => {
    const c = document.getElementById('presence-count');
    return {
      count: c.hidden ? null : Number(c.dataset.count),
      tooltip: [...document.querySelectorAll('#presence-tooltip li')].map((li) => li.textContent),
    };
  });
}

function exactly(text) {
  return new RegExp(`^${String(text).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

// The profile button named name in a settings row.
function profileButton(row, name) {
  return row.locator('.profile').filter({ has: row.page().locator('.name', { hasText: exactly(name) }) });
}

// Fills the open profile form with the fields cmd has (name, readOnly, lifetime in
// seconds, maxGuests: 0 or null for unlimited), saves, and waits until the form shows the
// saved profile. A refused save throws the form's errors.
async function saveProfileForm(p, cmd) {
  const form = p.locator('#profile-form');
  await form.waitFor({ state: 'visible', timeout: cmd.timeout });
  if (cmd.name !== undefined) await p.fill('#profile-name', String(cmd.name));
  if (cmd.readOnly !== undefined) await p.setChecked('#profile-readonly', cmd.readOnly === true);
  if (cmd.lifetime !== undefined) await p.selectOption('#profile-lifetime', String(cmd.lifetime ?? 0));
  if (cmd.maxGuests !== undefined) await p.fill('#profile-maxguests', cmd.maxGuests ? String(cmd.maxGuests) : '');
  if (cmd.passcode !== undefined) await p.setChecked('#profile-passcode', cmd.passcode === true);
  if (cmd.singleUse !== undefined) await p.setChecked('#profile-singleuse', cmd.singleUse === true);
  if (cmd.admit !== undefined) await p.setChecked('#profile-admit', cmd.admit === true);
  if (cmd.askControl !== undefined) await p.setChecked('#profile-askcontrol', cmd.askControl === true);
  const before = await form.getAttribute('data-saved');
  await p.click('#profile-save');
  const outcome = await p.waitForFunction(
    (prev) => {
      const f = document.getElementById('profile-form');
      if (f.dataset.saved && f.dataset.saved !== prev) return { id: f.dataset.profile };
      const errors = [...f.querySelectorAll('.error')].map((e) => e.textContent).filter(Boolean);
      return errors.length ? { errors } : false;
    },
    before,
    { timeout: cmd.timeout, polling: POLL_MS },
  );
  const v = await outcome.jsonValue();
  if (v.errors) throw new Error(`save refused: ${v.errors.join('; ')}`);
  return v;
}

const commands = {
  async open(cmd) {
    await newPage(cmd);
    return {};
  },

  async login(cmd) {
    const p = page(cmd);
    await p.fill('#username', String(cmd.username ?? ''), { timeout: cmd.timeout });
    await p.fill('#password', String(cmd.password ?? ''), { timeout: cmd.timeout });
    await p.click('#login-form button[type=submit]', { timeout: cmd.timeout });
    // Logging in leads to the connection list, or back to the session or settings a deep link named.
    const outcome = await p.waitForFunction(
      () => {
        const shown = (id) => !document.getElementById(id).hidden;
        if (shown('view-list') && document.getElementById('connection-list').dataset.loaded) return { view: 'list' };
        if (shown('view-session')) return { view: 'session' };
        if (shown('view-settings')) return { view: 'settings' };
        const err = document.getElementById('login-error').textContent;
        return err ? { error: err } : false;
      },
      null,
      { timeout: cmd.timeout, polling: POLL_MS },
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
      String(cmd.canvas ?? '#desktop'),
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

  async stateText(cmd) {
    return page(cmd).$eval('#state', (el) => ({ state: el.dataset.state, text: el.textContent }));
  },

  async menu(cmd) {
    const p = page(cmd);
    await p.locator('#view-session').waitFor({ state: 'visible', timeout: cmd.timeout });
    if (await p.locator('#connection-menu').isVisible()) throw new Error('the menu is already open');
    await p.keyboard.press(cmd.combo === 'alt' ? 'Control+Alt+Shift' : 'Control+Shift+Meta');
    await openMenu(p, cmd.timeout);
    return {
      userMenu: await p.locator('#user-menu').isVisible(),
      sharingMenu: await p.locator('#sharing-menu').isVisible(),
      profiles: await p.locator('#sharing-menu .share-profile').allTextContents(),
    };
  },

  async share(cmd) {
    const p = page(cmd);
    const menu = await openMenu(p, cmd.timeout);
    const before = await p.inputValue('#share-url');
    await menu.locator('.share-profile', { hasText: exactly(cmd.profile) }).click({ timeout: cmd.timeout });
    const url = await p.waitForFunction(
      (prev) => {
        const v = document.getElementById('share-url').value;
        if (v && v !== prev) return v;
        return document.getElementById('menu-error').textContent ? { error: document.getElementById('menu-error').textContent } : false;
      },
      before,
      { timeout: cmd.timeout, polling: POLL_MS },
    );
    const v = await url.jsonValue();
    if (typeof v !== 'string') throw new Error(v.error);
    const shown = await p.isVisible('#share-passcode-line');
    return { url: v, passcode: shown ? await p.textContent('#share-passcode') : '' };
  },

  async links(cmd) {
    const p = page(cmd);
    const menu = await openMenu(p, cmd.timeout);
    // Wait for the next refresh, so that the guest counts are current.
    const seen = Number(await menu.getAttribute('data-links-refreshed'));
    await p.waitForFunction(
      (n) => Number(document.getElementById('connection-menu').dataset.linksRefreshed) > n,
      seen,
      { timeout: cmd.timeout, polling: POLL_MS },
    );
    const links = await p.$$eval('#share-links .share-link', (rows) =>
      rows.map((r) => ({
        id: r.dataset.id,
        profile: r.querySelector('.name').textContent.replace(/ \(read only\)$/, ''),
        guests: Number(r.dataset.guests),
        revoked: r.classList.contains('revoked'),
      })),
    );
    return { links };
  },

  async revoke(cmd) {
    const p = page(cmd);
    await openMenu(p, cmd.timeout);
    const row = p.locator(`#share-links .share-link[data-id="${String(cmd.id)}"]`);
    await row.locator('.share-revoke').click({ timeout: cmd.timeout });
    await p.locator(`#share-links .share-link.revoked[data-id="${String(cmd.id)}"]`).waitFor({ state: 'attached', timeout: cmd.timeout });
    return {};
  },

  async openShare(cmd) {
    const p = await newPage(cmd);
    const first = await p.waitForFunction(
      () => {
        const shown = (id) => document.getElementById(id)?.hidden === false;
        if (shown('view-guest')) return 'guest';
        return shown('link-invalid') || shown('view-session') ? 'other' : false;
      },
      null,
      { timeout: cmd.timeout, polling: POLL_MS },
    );
    const asked = (await first.jsonValue()) === 'guest';
    if (asked) { // the page asks a guest for a name, and anyone for the link's passcode
      if (await p.isVisible('#guest-name')) await p.fill('#guest-name', String(cmd.name ?? ''), { timeout: cmd.timeout });
      if (await p.isVisible('#guest-passcode')) await p.fill('#guest-passcode', String(cmd.passcode ?? ''), { timeout: cmd.timeout });
      await p.click('#guest-form button[type=submit]', { timeout: cmd.timeout });
      const next = await p.waitForFunction(
        () => {
          const err = document.getElementById('guest-error').textContent;
          if (err) return { error: err };
          return document.getElementById('view-guest').hidden ? { joined: true } : false;
        },
        null,
        { timeout: cmd.timeout, polling: POLL_MS },
      );
      const v = await next.jsonValue();
      if (v.error) return { refused: v.error };
    }
    const outcome = await p.waitForFunction(
      () => {
        const invalid = document.getElementById('link-invalid');
        if (invalid && !invalid.hidden) return { invalid: true, text: invalid.querySelector('.message').textContent };
        const c = document.getElementById('desktop');
        const s = document.getElementById('state');
        if (c && s?.dataset.state === 'connected' && Number(c.dataset.frames) >= 1) return { connected: true };
        if (s?.dataset.state === 'waiting') return { waiting: true };
        if (s?.dataset.state === 'ended') return { ended: s.textContent };
        return false;
      },
      null,
      { timeout: cmd.timeout, polling: POLL_MS },
    );
    const v = await outcome.jsonValue();
    if (v.ended) throw new Error(`session ended: ${v.ended}`);
    if (v.invalid || v.waiting) return v;
    return readState(p);
  },

  async settingsNewProfile(cmd) {
    const p = page(cmd);
    const row = await settingsRow(p, cmd.connection, cmd.timeout);
    await row.locator('.new-profile').click({ timeout: cmd.timeout });
    const { id } = await saveProfileForm(p, cmd);
    await row.locator(`.profile[data-id="${id}"]`).waitFor({ state: 'attached', timeout: cmd.timeout });
    return { id };
  },

  async settingsEditProfile(cmd) {
    const p = page(cmd);
    const row = await settingsRow(p, cmd.connection, cmd.timeout);
    await profileButton(row, cmd.profile).click({ timeout: cmd.timeout });
    return saveProfileForm(p, cmd);
  },

  async settingsCloneProfile(cmd) {
    const p = page(cmd);
    const row = await settingsRow(p, cmd.connection, cmd.timeout);
    const original = profileButton(row, cmd.profile);
    const id = await original.getAttribute('data-id', { timeout: cmd.timeout });
    await original.click({ timeout: cmd.timeout });
    await p.locator(`#profile-form[data-profile="${id}"]`).waitFor({ state: 'visible', timeout: cmd.timeout });
    await p.click('#profile-clone');
    const copy = await p.waitForFunction(
      (orig) => {
        const f = document.getElementById('profile-form');
        if (f.dataset.profile && f.dataset.profile !== orig) return { id: f.dataset.profile, name: document.getElementById('profile-name').value };
        const err = document.getElementById('profile-error').textContent;
        return err ? { error: err } : false;
      },
      id,
      { timeout: cmd.timeout, polling: POLL_MS },
    );
    const v = await copy.jsonValue();
    if (v.error) throw new Error(v.error);
    await row.locator(`.profile[data-id="${v.id}"]`).waitFor({ state: 'attached', timeout: cmd.timeout });
    return v;
  },

  async settingsDeleteProfile(cmd) {
    const p = page(cmd);
    const row = await settingsRow(p, cmd.connection, cmd.timeout);
    const b = profileButton(row, cmd.profile);
    const id = await b.getAttribute('data-id', { timeout: cmd.timeout });
    await b.click({ timeout: cmd.timeout });
    await p.locator(`#profile-form[data-profile="${id}"]`).waitFor({ state: 'visible', timeout: cmd.timeout });
    await p.click('#profile-delete'); // arms the button
    await p.click('#profile-delete'); // confirms
    await row.locator(`.profile[data-id="${id}"]`).waitFor({ state: 'detached', timeout: cmd.timeout });
    return { id };
  },

  // Regenerates the agent token of connection cmd.connection in Settings (arming, then
  // confirming the button) and returns the token shown and the row's status after it.
  async settingsRegenerateToken(cmd) {
    const p = page(cmd);
    const row = await settingsRow(p, cmd.connection, cmd.timeout);
    const before = await p.inputValue('#new-connection-token');
    await row.locator('.regenerate-token').click({ timeout: cmd.timeout }); // arms the button
    await row.locator('.regenerate-token').click({ timeout: cmd.timeout }); // confirms
    await p.waitForFunction(
      ([name, old]) =>
        !document.getElementById('new-connection-result').hidden &&
        document.getElementById('new-connection-result-name').textContent === name &&
        document.getElementById('new-connection-token').value !== old,
      [cmd.connection, before],
      { timeout: cmd.timeout, polling: POLL_MS },
    );
    const fresh = await settingsRow(p, cmd.connection, cmd.timeout);
    return { token: await p.inputValue('#new-connection-token'), status: await fresh.locator('.status').textContent() };
  },

  // Returns the status Settings shows for connection cmd.connection.
  async settingsStatus(cmd) {
    const row = await settingsRow(page(cmd), cmd.connection, cmd.timeout);
    return { status: await row.locator('.status').textContent() };
  },

  async toasts(cmd) {
    return { toasts: await page(cmd).locator('#toasts .toast').allTextContents() };
  },

  async waitToast(cmd) {
    const p = page(cmd);
    if (typeof cmd.text !== 'string' || cmd.text === '') throw new Error('text is required');
    await p.waitForFunction(
      (text) => [...document.querySelectorAll('#toasts .toast')].some((t) => t.textContent === text),
      cmd.text,
      { timeout: cmd.timeout, polling: POLL_MS },
    );
    return { toasts: await p.locator('#toasts .toast').allTextContents() };
  },

  async presence(cmd) {
    const p = page(cmd);
    if (cmd.count !== undefined || cmd.tooltip !== undefined) {
      if (cmd.tooltip !== undefined && !Array.isArray(cmd.tooltip)) throw new Error('tooltip must be a list of lines');
      await p.waitForFunction(
        ({ count, tooltip }) => {
          const c = document.getElementById('presence-count');
          const lines = [...document.querySelectorAll('#presence-tooltip li')].map((li) => li.textContent);
          const okCount = count === undefined || (count === null ? c.hidden : !c.hidden && Number(c.dataset.count) === count);
          const okTip = tooltip === undefined || (lines.length === tooltip.length && lines.every((l, i) => l === tooltip[i]));
          return okCount && okTip;
        },
        { count: cmd.count, tooltip: cmd.tooltip },
        { timeout: cmd.timeout, polling: POLL_MS },
      );
    }
    const seen = await readPresence(p);
    if (seen.count === null) return { count: null, tooltip: [] };
    // Read the tooltip as the user sees it: hover the indicator until it shows.
    await p.hover('#presence-count', { timeout: cmd.timeout });
    await p.locator('#presence-tooltip').waitFor({ state: 'visible', timeout: cmd.timeout });
    const shown = await readPresence(p);
    return { count: shown.count, tooltip: await p.locator('#presence-tooltip li').allTextContents() };
  },

  async participants(cmd) {
    const p = page(cmd);
    const read = () =>
      p.evaluate(() => {
        const ul = document.getElementById('participants');
        return ul.hidden ? [] : [...ul.querySelectorAll('li')].map((li) => li.textContent);
      });
    if (cmd.lines !== undefined) {
      if (!Array.isArray(cmd.lines)) throw new Error('lines must be a list');
      const want = cmd.lines.map(String);
      await p.waitForFunction(
        (lines) => {
          const ul = document.getElementById('participants');
          const got = ul.hidden ? [] : [...ul.querySelectorAll('li')].map((li) => li.textContent);
          return got.length === lines.length && got.every((l, i) => l === lines[i]);
        },
        want,
        { timeout: cmd.timeout, polling: POLL_MS },
      );
    }
    return { participants: await read() };
  },

  async activeSessions(cmd) {
    const p = page(cmd);
    await settingsTab(p, '#/settings/sessions', 'live-sessions', { timeout: cmd.timeout });
    const sessions = await p.$$eval('#live-sessions .live-session', (rows) =>
      rows.map((r) => ({
        id: r.dataset.id,
        connection: r.querySelector('.connection').textContent,
        owner: r.querySelector('.owner').textContent,
        participants: [...r.querySelectorAll('.session-participants li')].map((li) => li.textContent),
      })),
    );
    return { sessions };
  },

  async joinSession(cmd) {
    const p = page(cmd);
    await settingsTab(p, '#/settings/sessions', 'live-sessions', { fresh: false, timeout: cmd.timeout });
    await p.locator(`#live-sessions .live-session[data-id="${String(cmd.id)}"] .session-join`).click({ timeout: cmd.timeout });
    await waitState(p, 'connected', cmd.timeout);
    await waitFrames(p, 1, cmd.timeout);
    return readState(p);
  },

  async killSession(cmd) {
    const p = page(cmd);
    await settingsTab(p, '#/settings/sessions', 'live-sessions', { fresh: false, timeout: cmd.timeout });
    const row = p.locator(`#live-sessions .live-session[data-id="${String(cmd.id)}"]`);
    await row.locator('.session-kill').click({ timeout: cmd.timeout }); // arms the button
    await row.locator('.session-kill[data-confirm="true"]').click({ timeout: cmd.timeout }); // confirms
    const gone = await p.waitForFunction(
      (id) => {
        if (!document.querySelector(`#live-sessions .live-session[data-id="${CSS.escape(id)}"]`)) return { gone: true };
        const err = document.getElementById('sessions-error').textContent;
        return err ? { error: err } : false;
      },
      String(cmd.id),
      { timeout: cmd.timeout, polling: POLL_MS },
    );
    const v = await gone.jsonValue();
    if (v.error) throw new Error(`kill refused: ${v.error}`);
    return {};
  },

  async history(cmd) {
    const p = page(cmd);
    await settingsTab(p, '#/settings/history', 'history', { refresh: '#history-refresh', timeout: cmd.timeout });
    return p.evaluate(() => {
      const sessions = [...document.querySelectorAll('#history tbody.history-session')].map((body) => ({
        session: body.querySelector('.history-row').dataset.id,
        connection: body.querySelector('.history-row .connection').textContent,
        owner: body.querySelector('.history-row').dataset.owner,
        recording: body.querySelector('a.history-recording')?.getAttribute('href') ?? '',
        participants: [...body.querySelectorAll('.history-participant')].map((tr) => ({
          name: tr.querySelector('.who .name').textContent,
          profile: tr.querySelector('.who .link-profile')?.textContent ?? '',
          address: tr.querySelector('.address').textContent,
          joined: tr.dataset.joined,
          left: tr.dataset.left || null,
          readOnly: tr.dataset.readOnly === 'true',
        })),
      }));
      return { total: Number(document.getElementById('history').dataset.total), sessions };
    });
  },

  async paste(cmd) {
    if (typeof cmd.text !== 'string') throw new Error('text is required');
    const p = page(cmd);
    await p.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(p.url()).origin });
    await p.evaluate((text) => navigator.clipboard.writeText(text), cmd.text);
    await p.keyboard.press('Control+V');
    return {};
  },

  async hostClipboard(cmd) {
    const p = page(cmd);
    const button = p.locator('#host-clipboard');
    if (cmd.text !== undefined) {
      await p.waitForFunction((text) => document.getElementById('host-clipboard').value === text, String(cmd.text), {
        timeout: cmd.timeout,
        polling: POLL_MS,
      });
    }
    const out = { text: await button.evaluate((b) => b.value) };
    if (cmd.copy) {
      await p.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(p.url()).origin });
      await p.evaluate(() => navigator.clipboard.writeText(''));
      await button.click({ timeout: cmd.timeout });
      const copied = await p.waitForFunction(
        async () => (await navigator.clipboard.readText()) || false,
        null,
        { timeout: cmd.timeout, polling: POLL_MS },
      );
      out.copied = await copied.jsonValue();
    }
    return out;
  },

  async cursor(cmd) {
    const p = page(cmd);
    if (cmd.visible !== undefined) {
      await p.waitForFunction((v) => !document.getElementById('cursor').hidden === v, cmd.visible === true, {
        timeout: cmd.timeout,
        polling: POLL_MS,
      });
    }
    return p.evaluate(() => {
      const img = document.getElementById('cursor');
      const d = img.dataset;
      return {
        visible: !img.hidden,
        width: Number(d.width),
        height: Number(d.height),
        hotspot: [Number(d.hotX), Number(d.hotY)],
        pointer: getComputedStyle(document.getElementById('desktop')).cursor,
      };
    });
  },

  async iceStats(cmd) {
    return page(cmd).evaluate(async () => {
      const pc = (window.__peerConnections ?? []).findLast((c) => c.connectionState !== 'closed');
      if (!pc) throw new Error('the page has no open peer connection');
      const stats = await pc.getStats();
      let pair = null;
      for (const r of stats.values()) {
        if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
      }
      if (!pair) throw new Error(`no selected candidate pair (ICE ${pc.iceConnectionState})`);
      return {
        localType: stats.get(pair.localCandidateId)?.candidateType ?? '',
        remoteType: stats.get(pair.remoteCandidateId)?.candidateType ?? '',
        iceState: pc.iceConnectionState,
      };
    });
  },

  async link(cmd) {
    const p = page(cmd);
    if (cmd.visible !== undefined) {
      // rated: shown with its measured rate (the relay's first report may come before it has one).
      await p.waitForFunction(([v, rated]) => {
        const el = document.getElementById('link');
        return !el.hidden === v && (!rated || el.textContent.includes(' · '));
      }, [Boolean(cmd.visible), Boolean(cmd.rated)], { timeout: cmd.timeout, polling: POLL_MS });
    }
    return p.$eval('#link', (el) => ({ visible: !el.hidden, text: el.textContent, title: el.title }));
  },

  async close() {
    done = true;
    return {};
  },
};
Object.assign(commands, userCommands({ page, settingsTab, pagePoint, pollMs: POLL_MS }));

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
      await browser.close();
    } catch (err) {
      log('close:', err.message);
    }
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
