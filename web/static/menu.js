// The connection menu of the session view, toggled by Ctrl+Shift+Meta (Ctrl+Shift+Cmd on a
// Mac) or Ctrl+Alt+Shift: the user menu (home, settings, log out) and the Sharing menu, which
// makes share links of the live session from the connection's sharing profiles and lists them.

import * as api from './api.js';
import { button } from './dom.js';

const MODIFIER_KEYS = new Set(['Control', 'Shift', 'Alt', 'Meta', 'OS']);
const LINKS_REFRESH_MS = 3000;
const COPIED_MS = 1500;

/**
 * Reports whether a keydown event completes the menu's shortcut: a modifier pressed while
 * Control and Shift are down together with Meta or Alt.
 */
export function isMenuCombo(e) {
  return MODIFIER_KEYS.has(e.key) && e.ctrlKey && e.shiftKey && (e.metaKey || e.altKey);
}

/** Returns the text for a number of guests on a link. */
export function guestsText(n) {
  return n === 1 ? '1 guest' : `${n} guests`;
}

const $ = (id) => document.getElementById(id);

/**
 * ConnectionMenu drives #connection-menu for one session view. input is the view's
 * InputCapture: opening the menu releases every key held on the host, and while the menu is
 * open isOpen() is true so that the view sends no input. opts:
 *   account   {username, admin} of a logged-in user who opened the connection; null for a
 *             share-link join, which gets neither the user menu nor the Sharing menu
 *   onLogout  called by the user menu's Log out
 * The element carries data-ready once its menus are filled after opening, and
 * data-links-refreshed counts the renderings of the links list (refreshed every few seconds
 * while the menu is open).
 */
export class ConnectionMenu {
  constructor(input, { account = null, onLogout = () => {} } = {}) {
    this.el = $('connection-menu');
    this.input = input;
    this.account = account;
    this.onLogout = onLogout;
    this.session = null; // {id, connection: {id, name}} from the server's hello
    this.identity = null;
    this.readOnly = false;
    this.linksTimer = 0;
    this.generation = 0; // bumped on every open and close: late replies of an older one are dropped
    this.el.hidden = true;
    delete this.el.dataset.ready;
    $('share-result').hidden = true;
    $('share-url').value = '';
    this.listeners = [
      [window, 'keydown', (e) => this.onKey(e), true],
      [$('menu-logout'), 'click', () => this.onLogout()],
      [$('share-copy'), 'click', () => this.copy()],
      [$('menu-close'), 'click', () => this.close()],
    ];
    for (const [target, type, fn, capture] of this.listeners) target.addEventListener(type, fn, capture);
  }

  /** Takes the session, identity and read-only flag the server and relay announced. */
  setInfo({ session, identity, readOnly }) {
    this.session = session ?? this.session;
    this.identity = identity ?? null;
    this.readOnly = readOnly === true;
    if (!this.el.hidden) this.fill();
  }

  /** Reports whether the menu is open. */
  isOpen() {
    return !this.el.hidden;
  }

  /** Removes the listeners and stops refreshing. */
  dispose() {
    this.close();
    for (const [target, type, fn, capture] of this.listeners) target.removeEventListener(type, fn, capture);
    this.listeners = [];
  }

  // Runs before the page's InputCapture (a capture listener on window), so the shortcut and
  // the keys pressed while the menu is open never reach the host.
  onKey(e) {
    if (isMenuCombo(e)) {
      e.preventDefault();
      e.stopPropagation();
      if (this.isOpen()) this.close();
      else this.open();
    } else if (e.key === 'Escape' && this.isOpen()) {
      e.preventDefault();
      e.stopPropagation();
      this.close();
    }
  }

  open() {
    this.input.releaseKeys(); // while input may still be sent
    this.el.hidden = false;
    this.fill();
    $('menu-close').focus({ preventScroll: true });
  }

  close() {
    this.generation++;
    clearInterval(this.linksTimer);
    this.linksTimer = 0;
    if (this.el.hidden) return;
    this.el.hidden = true;
    delete this.el.dataset.ready;
    $('desktop').focus({ preventScroll: true });
  }

  // Whether this participant may make share links: a logged-in user who opened the connection.
  maySharing() {
    return this.account !== null && this.session !== null && this.identity?.role !== 'guest';
  }

  async fill() {
    const gen = ++this.generation;
    clearInterval(this.linksTimer);
    this.linksTimer = 0;
    delete this.el.dataset.ready;
    this.error('');
    $('menu-connection').textContent = this.session?.connection.name || 'Connection';
    const who = this.identity?.name ?? '';
    $('menu-identity').textContent = this.readOnly ? `${who} · View only` : who;
    const userMenu = $('user-menu');
    userMenu.hidden = this.account === null;
    $('menu-guest').hidden = this.account !== null;
    if (this.account) {
      $('menu-username').textContent = this.account.username;
      $('menu-settings').hidden = !this.account.admin;
    }
    const sharing = $('sharing-menu');
    sharing.hidden = true;
    if (this.maySharing()) {
      try {
        const list = await api.profiles(this.session.connection.id);
        if (gen !== this.generation) return;
        this.renderProfiles(list);
        sharing.hidden = list.length === 0;
        if (list.length > 0) {
          await this.refreshLinks(gen);
          this.linksTimer = setInterval(() => this.refreshLinks(gen), LINKS_REFRESH_MS);
        }
      } catch (err) {
        if (gen !== this.generation) return;
        this.error(`Sharing profiles: ${err.message}`);
      }
    }
    if (gen === this.generation) this.el.dataset.ready = 'true';
  }

  renderProfiles(list) {
    $('share-profiles').replaceChildren(
      ...list.map((p) => {
        const b = button('share-profile', p.name);
        b.dataset.id = p.id;
        if (p.readOnly) b.title = 'Read only';
        b.addEventListener('click', () => this.share(p, b));
        return b;
      }),
    );
  }

  async share(profile, b) {
    const gen = this.generation;
    this.error('');
    b.disabled = true;
    try {
      const link = await api.createLink(this.session.id, profile.id);
      if (gen !== this.generation) return;
      $('share-url').value = link.url;
      $('share-passcode').textContent = link.passcode;
      $('share-passcode-line').hidden = link.passcode === '';
      $('share-result').hidden = false;
      $('share-result-profile').textContent = profile.name;
      $('share-url').select();
      await this.refreshLinks(gen);
    } catch (err) {
      if (gen === this.generation) this.error(err.message);
    } finally {
      b.disabled = false;
    }
  }

  async copy() {
    const url = $('share-url');
    const b = $('share-copy');
    try {
      await navigator.clipboard.writeText(url.value);
    } catch {
      url.select(); // the clipboard API may be refused: select it for a manual copy
      document.execCommand('copy');
    }
    b.textContent = 'Copied';
    setTimeout(() => (b.textContent = 'Copy'), COPIED_MS);
  }

  async refreshLinks(gen) {
    try {
      const list = await api.links(this.session.id);
      if (gen === this.generation) this.renderLinks(list);
    } catch (err) {
      if (gen === this.generation) this.error(`Links: ${err.message}`);
    }
  }

  renderLinks(list) {
    this.el.dataset.linksRefreshed = String(Number(this.el.dataset.linksRefreshed ?? 0) + 1);
    const items = list.map((l) => {
      const li = document.createElement('li');
      li.className = 'share-link';
      li.dataset.id = l.id;
      li.dataset.guests = String(l.guests);
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = l.profile.name + (l.profile.readOnly ? ' (read only)' : '');
      const guests = document.createElement('span');
      guests.className = 'guests';
      guests.textContent = l.revoked ? 'revoked' : `${l.used ? 'used · ' : ''}${guestsText(l.guests)}`;
      li.append(name, guests);
      if (l.revoked) {
        li.classList.add('revoked');
      } else {
        const revoke = button('share-revoke', 'Revoke');
        revoke.addEventListener('click', () => this.revoke(l.id, revoke));
        li.append(revoke);
      }
      return li;
    });
    $('share-links').replaceChildren(...items);
  }

  async revoke(id, b) {
    const gen = this.generation;
    b.disabled = true;
    try {
      await api.revokeLink(id);
    } catch (err) {
      if (gen === this.generation) this.error(err.message);
    }
    await this.refreshLinks(gen);
  }

  error(text) {
    $('menu-error').textContent = text;
  }
}
