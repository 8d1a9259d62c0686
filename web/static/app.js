// The page's entry point: a hash router over three views (login, connection list, session).
//   #/login            log in
//   #/                 the connections the user may open
//   #/session/<id>     the live session of connection <id>

import * as api from './api.js';
import { Display } from './display.js';
import { InputCapture } from './input.js';
import { Session, STATE_TEXT } from './session.js';

const LIST_REFRESH_MS = 10000;
const NOTICE_MS = 5000;
const SESSION_ROUTE = /^#\/session\/([A-Za-z0-9_-]{1,64})$/;

const $ = (id) => document.getElementById(id);

let account = null; // {username, admin} once known
let afterLogin = '#/'; // where to go once logged in
let leaveView = () => {}; // tears down the current view

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
  const m = SESSION_ROUTE.exec(hash);
  if (!m && hash !== '#/' && hash !== '') {
    go('#/');
    return;
  }
  const token = {}; // a later navigation while we wait for the account wins
  leaveView = () => (token.stale = true);
  if (!(await requireAccount()) || token.stale) return;
  if (m) showSession(m[1]);
  else showList();
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
        account = null;
        afterLogin = '#/';
        go('#/login');
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

// ---- session ----

function showSession(connectionId) {
  show('view-session');
  const stateEl = $('state');
  const badge = $('badge');
  const identityEl = $('identity');
  const noticeEl = $('notice');
  let noticeTimer = 0;
  badge.hidden = true;
  identityEl.textContent = '';
  noticeEl.hidden = true;

  const display = new Display($('desktop'));
  const session = new Session(connectionId, display, {
    onState(state) {
      stateEl.dataset.state = state;
      stateEl.textContent = STATE_TEXT[state];
    },
    onInfo({ identity, readOnly }) {
      const name = typeof identity?.name === 'string' ? identity.name : '';
      const role = typeof identity?.role === 'string' ? identity.role : '';
      identityEl.textContent = role ? `${name} (${role})` : name;
      badge.hidden = !readOnly;
    },
    onNotice(text) {
      noticeEl.textContent = text;
      noticeEl.hidden = false;
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(() => (noticeEl.hidden = true), NOTICE_MS);
    },
  });
  const input = new InputCapture(display, session);
  session.start();
  $('desktop').focus({ preventScroll: true });
  leaveView = () => {
    clearTimeout(noticeTimer);
    input.close();
    session.close();
    display.close();
  };
}

$('login-form').addEventListener('submit', onLogin);
$('logout').addEventListener('click', onLogout);
window.addEventListener('hashchange', route);
route();
