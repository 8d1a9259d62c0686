// The page's entry point: a hash router over the views.
//   #/login            log in
//   #/                 the connections the user may open
//   #/settings         settings (admins): the Connections tab
//   #/settings/sessions   its Active Sessions tab
//   #/settings/history    its History tab
//   #/settings/users      its Users tab
//   #/session/<id>     the live session of connection <id>
//   #/shared           the live session a share URL (/s/<key>) leads to; no account needed
//   #/recording/<id>   the player of recording <id> (admins)

import * as api from './api.js';
import { HostClipboard } from './clipboard.js';
import { CursorView } from './cursor.js';
import { Display } from './display.js';
import { linkText } from './format.js';
import { HistoryView } from './history.js';
import { InputCapture } from './input.js';
import { ConnectionMenu } from './menu.js';
import { PresenceView } from './presence.js';
import { Session, STATE_TEXT } from './session.js';
import { ActiveSessionsView } from './sessions.js';
import { SettingsView } from './settings.js';
import { guestName, savedPasscode, savePasscode, setGuestName, SHARED_ROUTE, takeShareKey } from './share.js';
import { UsersView, wirePasswordForm } from './users.js';
import { WaitingView } from './waiting.js';
import { PointersView } from './pointers.js';
import { HandoffView } from './handoff.js';
import { PlayerView } from './player.js';

const LIST_REFRESH_MS = 10000;
const NOTICE_MS = 5000;
const SESSION_ROUTE = /^#\/session\/([A-Za-z0-9_-]{1,64})$/;
const RECORDING_ROUTE = /^#\/recording\/([0-9]{1,18})$/;
const SETTINGS_ROUTE = /^#\/settings(?:\/(sessions|history|users))?$/;
// The settings tabs: the route's tab name → the ids of its tab and panel.
const SETTINGS_TABS = {
  connections: { tab: 'tab-connections', panel: 'panel-connections' },
  sessions: { tab: 'tab-sessions', panel: 'panel-sessions' },
  history: { tab: 'tab-history', panel: 'panel-history' },
  users: { tab: 'tab-users', panel: 'panel-users' },
};
// Session states in which the roster of the last presence message still holds.
const ON_SESSION = new Set(['connected', 'connecting']);

const $ = (id) => document.getElementById(id);

let account = null; // {username, admin} once known
let afterLogin = '#/'; // where to go once logged in
let leaveView = () => {}; // tears down the current view
// The key of the share URL this tab was opened with: '' for none, null for a malformed one.
const shareKey = takeShareKey(location.pathname, sessionStorage, (url) => history.replaceState(null, '', url));

function show(viewId) {
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== viewId;
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// Resolves to the account, or sends the user to the login view and resolves to null.
async function requireAccount() {
  if (account) return account;
  try {
    account = await api.me();
    return account;
  } catch (err) {
    if (err.status !== 401) console.warn('peerdesk: /api/me:', err.message);
    afterLogin = location.hash || '#/';
    go('#/login');
    return null;
  }
}

async function route() {
  leaveView();
  leaveView = () => {};
  const hash = location.hash;
  if (hash === '#/login') {
    showLogin();
    return;
  }
  const token = {}; // a later navigation while we wait wins
  leaveView = () => (token.stale = true);
  if (hash === SHARED_ROUTE) {
    await showShared(token);
    return;
  }
  const m = SESSION_ROUTE.exec(hash);
  const settings = SETTINGS_ROUTE.exec(hash);
  const recording = RECORDING_ROUTE.exec(hash);
  if (!m && !settings && !recording && hash !== '#/' && hash !== '') {
    go('#/');
    return;
  }
  if (!(await requireAccount()) || token.stale) return;
  if (m) showSession({ connection: m[1] }, account);
  else if (recording) showPlayer(recording[1]);
  else if (settings) showSettings(settings[1] ?? 'connections');
  else showList();
}

function loggedOut() {
  account = null;
  afterLogin = location.hash || '#/';
  go('#/login');
}

// ---- login ----

function showLogin() {
  show('view-login');
  $('login-error').textContent = '';
  $('username').focus();
}

async function onLogin(e) {
  e.preventDefault();
  const button = e.target.querySelector('button[type=submit]');
  const error = $('login-error');
  error.textContent = '';
  button.disabled = true;
  try {
    account = await api.login($('username').value, $('password').value);
    $('password').value = '';
    const next = afterLogin;
    afterLogin = '#/';
    go(next === '#/login' ? '#/' : next);
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

async function onLogout() {
  try {
    await api.logout();
  } catch (err) {
    console.warn('peerdesk: logout:', err.message);
  }
  account = null;
  go('#/login');
}

// ---- connection list ----

function showList() {
  show('view-list');
  $('whoami').textContent = account.username + (account.admin ? ' (admin)' : '');
  $('settings-link').hidden = !account.admin;
  const ul = $('connection-list');
  ul.replaceChildren();
  delete ul.dataset.loaded;
  let active = true;
  const load = async () => {
    try {
      const list = await api.connections();
      if (active) renderList(list);
    } catch (err) {
      if (!active) return;
      if (err.status === 401) {
        loggedOut();
        return;
      }
      $('list-error').textContent = err.message;
    }
  };
  load();
  const timer = setInterval(load, LIST_REFRESH_MS);
  leaveView = () => {
    active = false;
    clearInterval(timer);
  };
}

function renderList(list) {
  $('list-error').textContent = '';
  const ul = $('connection-list');
  const items = list.map((c) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'connection';
    button.dataset.id = c.id;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = c.name;
    const status = document.createElement('span');
    status.className = c.online ? 'status online' : 'status';
    status.textContent = c.online ? 'online' : 'offline';
    button.append(name, status);
    button.addEventListener('click', () => go(`#/session/${encodeURIComponent(c.id)}`));
    li.append(button);
    return li;
  });
  if (items.length === 0) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'No connections available.';
    items.push(li);
  }
  ul.replaceChildren(...items);
  ul.dataset.loaded = 'true';
}

// ---- settings ----

// Shows the settings tab named tab (a key of SETTINGS_TABS).
function showSettings(tab) {
  if (!account.admin) {
    go('#/');
    return;
  }
  show('view-settings');
  $('settings-whoami').textContent = account.username;
  for (const [name, ids] of Object.entries(SETTINGS_TABS)) {
    $(ids.tab).setAttribute('aria-selected', String(name === tab));
    $(ids.panel).hidden = name !== tab;
  }
  const onUnauthorized = loggedOut;
  let view;
  if (tab === 'sessions') {
    view = new ActiveSessionsView({ onUnauthorized, onJoin: (id) => go(`#/session/${encodeURIComponent(id)}`) });
  } else if (tab === 'history') {
    view = new HistoryView({ onUnauthorized });
  } else if (tab === 'users') {
    view = new UsersView({ me: account.username, onUnauthorized });
  } else {
    view = new SettingsView({ onUnauthorized });
  }
  leaveView = () => view.close();
}

// Shows the player of recording id (admins).
function showPlayer(id) {
  if (!account.admin) {
    go('#/');
    return;
  }
  show('view-player');
  const view = new PlayerView(id, { onUnauthorized: loggedOut });
  leaveView = () => view.close();
}

// ---- share URLs ----

// Joins the session of this tab's share key, or shows why the link does not work.
async function showShared(token) {
  if (!shareKey) {
    showInvalid('');
    return;
  }
  let info;
  try {
    info = await api.share(shareKey);
  } catch (err) {
    if (token.stale) return;
    // 404 is the invalid link; 429 (throttled) and others carry their own reason.
    showInvalid(err.status === 404 ? '' : err.message);
    return;
  }
  const member = await api.me().catch(() => null); // a logged-in visitor joins under their name
  if (token.stale) return;
  const join = await askJoin(info, member !== null, token);
  if (token.stale || join === null) return;
  showSession({ share: shareKey, ...join }, null);
}

// Resolves to how this tab joins its link, {name, passcode}: the name a guest gives ('' for
// Anonymous; none for a logged-in member) and the link's passcode if it has one — what the
// tab chose before, or what the guest form gets (a wrong passcode is said there, and asked
// again); null if the view changed meanwhile.
function askJoin(info, member, token) {
  const name = member ? '' : guestName(sessionStorage);
  const passcode = info.passcode ? savedPasscode(sessionStorage) : '';
  if ((member || name !== null) && (!info.passcode || passcode !== '')) return Promise.resolve({ name: name ?? '', passcode });
  show('view-guest');
  $('guest-connection').textContent = info.connection.name;
  $('guest-readonly').hidden = !info.readOnly;
  for (const id of ['guest-name', 'guest-name-label']) $(id).hidden = member;
  for (const id of ['guest-passcode', 'guest-passcode-label']) $(id).hidden = !info.passcode;
  $('guest-error').textContent = '';
  $(member ? 'guest-passcode' : 'guest-name').focus();
  return new Promise((resolve) => {
    const form = $('guest-form');
    const submit = async (e) => {
      e.preventDefault();
      if (token.stale) {
        form.removeEventListener('submit', submit);
        resolve(null);
        return;
      }
      const code = $('guest-passcode').value.trim();
      if (info.passcode) {
        try {
          await api.share(shareKey, code);
        } catch (err) {
          $('guest-error').textContent = err.status === 403 ? 'Wrong passcode' : err.message;
          return;
        }
        savePasscode(sessionStorage, code);
      }
      form.removeEventListener('submit', submit);
      resolve({ name: member ? '' : setGuestName(sessionStorage, $('guest-name').value), passcode: code });
    };
    form.addEventListener('submit', submit);
  });
}

function showInvalid(message) {
  show('link-invalid');
  $('link-invalid').querySelector('.message').textContent = message || 'This link is invalid or has expired';
}

// The reason a share join must stop reconnecting: its link no longer works.
function shareGone(wsURL) {
  return api.linkGone(shareKey, wsURL);
}

// ---- session ----

// Shows the live session of target ({connection: id} or {share: key, name, passcode}). user is the account
// that opened a connection, or null for a share join, which has no user or Sharing menu.
function showSession(target, user) {
  show('view-session');
  $('back').hidden = user === null;
  const stateEl = $('state');
  const badge = $('badge');
  const identityEl = $('identity');
  const noticeEl = $('notice');
  const linkEl = $('link');
  let noticeTimer = 0;
  badge.hidden = true;
  $('recording-mark').hidden = true;
  linkEl.hidden = true;
  identityEl.textContent = '';
  noticeEl.hidden = true;

  const showNotice = (text) => {
    noticeEl.textContent = text;
    noticeEl.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (noticeEl.hidden = true), NOTICE_MS);
  };
  let cursor = null;
  const display = new Display($('desktop'), { onCursor: (msg) => cursor.set(msg) });
  cursor = new CursorView(display, $('cursor'));
  const clipboard = new HostClipboard($('host-clipboard'), showNotice);
  const presence = new PresenceView();
  let menu = null;
  let session = null;
  const pointers = new PointersView($('pointers'), display, $('pointers-toggle'));
  const handoff = new HandoffView($('handoff'), (type, fields) => session.handoff(type, fields), showNotice);
  const waiting = new WaitingView($('waiting'), {
    decide: (peer, allow) => session.admit(peer, allow),
    announce: showNotice,
  });
  session = new Session(target, display, {
    onState(state, message) {
      stateEl.dataset.state = state;
      $('view-session').dataset.state = state;
      if (state === 'ended') stateEl.textContent = message || STATE_TEXT[state];
      else if (state === 'host-unavailable' && message) stateEl.textContent = `${STATE_TEXT[state]}: ${message}`;
      else stateEl.textContent = STATE_TEXT[state];
      if (state === 'ended') {
        menu?.close();
        waiting.update([]);
      }
      // A new peer connection starts with a link that keeps up, until the relay says otherwise.
      if (state !== 'connected') linkEl.hidden = true;
      // The desktop going away (the relay's desktop message) keeps the peer and its roster.
      if (!ON_SESSION.has(state) && !session.hasPeer()) presence.clear();
    },
    onInfo(info) {
      const { identity, readOnly } = info;
      const name = typeof identity?.name === 'string' ? identity.name : '';
      const role = typeof identity?.role === 'string' ? identity.role : '';
      identityEl.textContent = role ? `${name} (${role})` : name;
      badge.hidden = !readOnly;
      $('recording-mark').hidden = !info.session?.recording;
      clipboard.setAllowed(!readOnly);
      presence.setIdentity(identity);
      handoff.setInfo(info);
      menu?.setInfo(info);
    },
    onPresence: (change) => presence.update(change),
    onWaiting: (list) => waiting.update(list),
    onPointers: (list) => pointers.update(list),
    onHandoff: (state, me) => {
      handoff.update(state, me);
      presence.setController(state.holder?.name ?? '');
    },
    onClipboard: (text) => clipboard.set(text),
    onLink(m) {
      linkEl.textContent = linkText(m);
      linkEl.hidden = linkEl.textContent === '';
      linkEl.title = m.lighter
        ? 'Your connection carries less than the desktop changes: you see fewer updates, and photos at a lower quality.'
        : 'Your connection carries less than the desktop changes: you see fewer updates.';
    },
    onNotice: showNotice,
    beforeReconnect: target.share === undefined ? undefined : shareGone,
  });
  // No input reaches the host while the connection menu is open.
  const input = new InputCapture(display, {
    canSend: () => !menu.isOpen() && session.canSend(),
    send: (bytes) => session.send(bytes),
    pointAt: (bytes) => !menu.isOpen() && session.pointAt(bytes),
    notice: showNotice,
  });
  menu = new ConnectionMenu(input, { account: user, onLogout });
  session.start();
  $('desktop').focus({ preventScroll: true });
  leaveView = () => {
    clearTimeout(noticeTimer);
    menu.dispose();
    input.close();
    session.close();
    presence.dispose();
    clipboard.close();
    cursor.close();
    display.close();
    waiting.update([]);
    pointers.close();
  };
}

$('login-form').addEventListener('submit', onLogin);
$('logout').addEventListener('click', onLogout);
wirePasswordForm({ onUnauthorized: loggedOut });
window.addEventListener('hashchange', route);
route();
