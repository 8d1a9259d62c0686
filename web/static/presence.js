// Presence in the session view (docs/PROTOCOL.md, 3.1 presence): who else is on the live
// session. The owner gets a toast when someone joins or leaves and an indicator of the number
// of other users whose tooltip lists them; members and guests get a participant list.
// The parsing and text functions and ToastStack are pure, so node can test them.

import { element } from './dom.js';
import { ProtocolError } from './protocol.js';

/** How long a toast stays, in milliseconds (it fades out at the end, see style.css). */
export const TOAST_MS = 5000;
/** Most toasts shown at once; a newer one pushes the oldest out. */
export const MAX_TOASTS = 5;
/** Most identities a roster or a joined/left list may hold. */
export const MAX_IDENTITIES = 1000;
const MAX_NAME = 256;
const ROLES = new Set(['owner', 'member', 'guest']);

/**
 * Returns an identity entry {name, role, readOnly, connections} checked and copied from p,
 * as presence messages and GET /api/sessions carry it; connections may be 0 only where
 * minConnections allows it (a left entry of an identity that is gone). Throws ProtocolError.
 */
export function parseIdentity(p, minConnections = 1) {
  if (p === null || typeof p !== 'object') throw new ProtocolError('identity entry is not an object');
  if (typeof p.name !== 'string' || p.name === '' || p.name.length > MAX_NAME) throw new ProtocolError('identity without a valid name');
  if (!ROLES.has(p.role)) throw new ProtocolError(`identity ${p.name} with role ${p.role}`);
  if (!Number.isSafeInteger(p.connections) || p.connections < minConnections) {
    throw new ProtocolError(`identity ${p.name} with ${p.connections} connections`);
  }
  return { name: p.name, role: p.role, readOnly: p.readOnly === true, connections: p.connections };
}

/** Returns the identity entries of list (an array of at most MAX_IDENTITIES). Throws ProtocolError. */
export function parseIdentities(list, what, minConnections = 1) {
  if (!Array.isArray(list)) throw new ProtocolError(`${what} is not a list`);
  if (list.length > MAX_IDENTITIES) throw new ProtocolError(`${what} of ${list.length} identities`);
  return list.map((p) => parseIdentity(p, minConnections));
}

/**
 * Returns the roster change of a decoded presence control message:
 * {seq, participants, joined, left}, each list of identity entries. Throws ProtocolError.
 */
export function parsePresence(m) {
  if (!Number.isSafeInteger(m?.seq) || m.seq < 0) throw new ProtocolError('presence without a valid seq');
  return {
    seq: m.seq,
    participants: parseIdentities(m.participants, 'participants'),
    joined: parseIdentities(m.joined ?? [], 'joined'),
    left: parseIdentities(m.left ?? [], 'left', 0),
  };
}

/** Returns the line of an identity with its connection count: "alice (2)". */
export function countText(p) {
  return `${p.name} (${p.connections})`;
}

/** Returns the identities of a roster other than the viewer's own (named self). */
export function otherIdentities(participants, self) {
  return participants.filter((p) => p.name !== self);
}

/** Returns the toast texts of a roster change for the viewer named self: "alice joined", "alice left". */
export function toastTexts(change, self) {
  return [
    ...otherIdentities(change.joined, self).map((p) => `${p.name} joined`),
    ...otherIdentities(change.left, self).map((p) => `${p.name} left`),
  ];
}

/**
 * ToastStack keeps the toasts on screen: each {id, text, expires} lasts ttl milliseconds,
 * and at most max are kept (oldest first in entries). Times are passed in, so it needs no
 * clock.
 */
export class ToastStack {
  constructor({ max = MAX_TOASTS, ttl = TOAST_MS } = {}) {
    this.max = max;
    this.ttl = ttl;
    this.entries = [];
    this.lastId = 0;
  }

  /** Adds a toast at time now; returns {toast, dropped}: the new one and those it pushed out. */
  add(text, now) {
    const toast = { id: ++this.lastId, text, expires: now + this.ttl };
    this.entries.push(toast);
    const dropped = this.entries.splice(0, Math.max(0, this.entries.length - this.max));
    return { toast, dropped };
  }

  /** Removes and returns the toasts expired at time now. */
  expire(now) {
    const n = this.entries.findIndex((t) => t.expires > now);
    return this.entries.splice(0, n < 0 ? this.entries.length : n);
  }

  /** Returns the time the oldest toast expires, or null when there is none. */
  nextExpiry() {
    return this.entries.length ? this.entries[0].expires : null;
  }

  /** Removes and returns every toast. */
  clear() {
    return this.entries.splice(0);
  }
}

const $ = (id) => document.getElementById(id);

/**
 * PresenceView drives #toasts, #presence-count, #presence-tooltip and #participants for one
 * session view. Give it the viewer's identity ({name, role}) with setIdentity and each roster
 * change (parsePresence) with update; clear() forgets the roster while the viewer is not on
 * the session. dispose() stops it.
 */
export class PresenceView {
  constructor() {
    this.identity = null;
    this.roster = null; // the participants of the last presence message
    this.stack = new ToastStack();
    this.timer = 0;
    this.toastsEl = $('toasts');
    this.countEl = $('presence-count');
    this.tooltipEl = $('presence-tooltip');
    this.listEl = $('participants');
    this.toastsEl.replaceChildren();
    this.hovered = false;
    this.focused = false;
    const tip = (key, on) => () => {
      this[key] = on;
      this.renderTooltip();
    };
    this.listeners = [
      [this.countEl, 'mouseenter', tip('hovered', true)],
      [this.countEl, 'mouseleave', tip('hovered', false)],
      [this.countEl, 'focus', tip('focused', true)],
      [this.countEl, 'blur', tip('focused', false)],
    ];
    for (const [target, type, fn] of this.listeners) target.addEventListener(type, fn);
    this.render();
  }

  /** Takes the viewer's identity from the server's hello or the relay's welcome. */
  setIdentity(identity) {
    const name = typeof identity?.name === 'string' ? identity.name : '';
    const role = typeof identity?.role === 'string' ? identity.role : '';
    this.identity = name || role ? { name, role } : null;
    this.render();
  }

  /** Marks the participant named name as the one with control ('' for none). */
  setController(name) {
    if (name === this.controller) return;
    this.controller = name;
    this.render();
  }

  /** Applies a roster change; the owner gets toasts for others' joins and leaves. */
  update(change) {
    this.roster = change.participants;
    if (this.identity?.role === 'owner') {
      for (const text of toastTexts(change, this.identity.name)) this.toast(text);
    }
    this.render();
  }

  /** Forgets the roster (the viewer lost the session); toasts already shown stay. */
  clear() {
    this.roster = null;
    this.render();
  }

  /** Removes the listeners, the toasts and the roster. */
  dispose() {
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    this.listeners = [];
    clearTimeout(this.timer);
    this.stack.clear();
    this.toastsEl.replaceChildren();
    this.identity = null;
    this.roster = null;
    this.render();
  }

  toast(text) {
    const { toast, dropped } = this.stack.add(text, Date.now());
    this.remove(dropped);
    const el = element('div', 'toast', text);
    el.dataset.id = String(toast.id);
    this.toastsEl.append(el);
    this.schedule();
  }

  remove(toasts) {
    for (const t of toasts) this.toastsEl.querySelector(`.toast[data-id="${t.id}"]`)?.remove();
  }

  schedule() {
    clearTimeout(this.timer);
    const next = this.stack.nextExpiry();
    if (next === null) return;
    this.timer = setTimeout(() => {
      this.remove(this.stack.expire(Date.now()));
      this.schedule();
    }, Math.max(0, next - Date.now()));
  }

  render() {
    const role = this.identity?.role;
    const roster = this.roster ?? [];
    const others = otherIdentities(roster, this.identity?.name);
    const owner = role === 'owner' && others.length > 0;
    this.countEl.hidden = !owner;
    this.countEl.textContent = owner ? `${others.length} ${others.length === 1 ? 'other' : 'others'}` : '';
    this.countEl.dataset.count = owner ? String(others.length) : '';
    this.tooltipEl.replaceChildren(...others.map((p) => this.line(p)));
    this.renderTooltip();
    const list = this.roster !== null && role !== undefined && role !== 'owner';
    this.listEl.hidden = !list;
    this.listEl.replaceChildren(...(list ? roster.map((p) => this.line(p)) : []));
  }

  renderTooltip() {
    this.tooltipEl.hidden = this.countEl.hidden || !(this.hovered || this.focused);
  }

  line(p) {
    const control = this.controller !== '' && this.controller !== undefined && p.name === this.controller;
    const li = element('li', p.name === this.identity?.name ? 'self' : '', countText(p) + (control ? ' — has control' : ''));
    li.dataset.role = p.role;
    if (control) li.dataset.control = 'true';
    if (p.readOnly) li.dataset.readOnly = 'true';
    li.title = `${p.role}${p.readOnly ? ', view only' : ''}`;
    return li;
  }
}
