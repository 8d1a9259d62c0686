// The Settings view (#/settings, admins): the Connections tab lists every connection; each
// row expands to its sharing profiles, which open in the profile form for editing, and offers
// "New Sharing Profile". Connections can be added (the agent token is shown once), given a new
// agent token (shown once; the agent holding the old one is disconnected) and deleted.

import * as api from './api.js';
import { button, confirmed, element } from './dom.js';
import { durationText } from './format.js';

/** Link lifetimes the form offers, in seconds (0: the link lives until its session ends). */
export const LIFETIMES = Object.freeze([
  [0, 'None (until the session ends)'],
  [900, '15 minutes'],
  [3600, '1 hour'],
  [28800, '8 hours'],
  [86400, '24 hours'],
  [604800, '7 days'],
]);

/** Most concurrent guests a profile may allow per link. */
export const MAX_GUESTS = 1000;
const MAX_CLONE_TRIES = 20;

/** Returns the one-line summary of a profile's options shown in its button. */
export function profileSummary(p) {
  return [
    p.readOnly ? 'read only' : 'full access',
    p.linkLifetime ? `links last ${durationText(p.linkLifetime)}` : 'links last the session',
    p.maxGuests ? `at most ${p.maxGuests} per link` : 'unlimited guests',
    ...(p.passcode ? ['passcode'] : []),
    ...(p.singleUse ? ['single use'] : []),
    ...(p.admit ? ['host admits guests'] : []),
    ...(p.askControl ? ['guests request control'] : []),
  ].join(' · ');
}

/**
 * Parses the maximum-guests field: empty means unlimited (0). Returns {value} or {error}.
 */
export function parseMaxGuests(text) {
  const t = String(text).trim();
  if (t === '') return { value: 0 };
  if (!/^[0-9]+$/.test(t) || Number(t) < 1 || Number(t) > MAX_GUESTS) {
    return { error: `Enter a whole number from 1 to ${MAX_GUESTS}, or leave it empty for unlimited` };
  }
  return { value: Number(t) };
}

/** Returns the name of the n-th attempt (from 1) at naming a clone of a profile. */
export function cloneName(name, n) {
  return n <= 1 ? `${name} (copy)` : `${name} (copy) ${n}`;
}

const $ = (id) => document.getElementById(id);

// The profile form's inputs, by the API field each one edits.
const FIELDS = {
  name: 'profile-name',
  readOnly: 'profile-readonly',
  linkLifetime: 'profile-lifetime',
  maxGuests: 'profile-maxguests',
};

/**
 * SettingsView drives #view-settings while it is shown; onUnauthorized is called when the
 * login session turns out to be gone. close() stops it.
 */
export class SettingsView {
  constructor({ onUnauthorized }) {
    this.onUnauthorized = onUnauthorized;
    this.closed = false;
    this.connections = [];
    this.expanded = new Set(); // connection ids whose profiles are shown
    this.profiles = new Map(); // connection id → profiles, once loaded
    this.editing = null; // {connectionId, profile (null for a new one)}
    this.saves = 0; // successful saves, shown as the form's data-saved
    this.listeners = [
      [$('profile-form'), 'submit', (e) => this.save(e)],
      [$('profile-delete'), 'click', (e) => this.remove(e.currentTarget)],
      [$('profile-clone'), 'click', (e) => this.clone(e.currentTarget)],
      [$('profile-cancel'), 'click', () => this.closeForm()],
      [$('new-connection-form'), 'submit', (e) => this.addConnection(e)],
    ];
    for (const [target, type, fn] of this.listeners) target.addEventListener(type, fn);
    $('settings-connections').replaceChildren();
    delete $('settings-connections').dataset.loaded;
    $('new-connection-result').hidden = true;
    $('new-connection-token').value = '';
    $('new-connection-error').textContent = '';
    delete $('profile-form').dataset.saved;
    this.closeForm();
    this.load();
  }

  /** Stops the view: later replies are dropped. */
  close() {
    this.closed = true;
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    this.listeners = [];
  }

  failed(err, where) {
    if (this.closed) return;
    if (err.status === 401) this.onUnauthorized();
    else where.textContent = err.message;
  }

  async load() {
    try {
      const list = await api.connections();
      if (this.closed) return;
      this.connections = list;
      $('settings-error').textContent = '';
      for (const id of this.expanded) if (!list.some((c) => c.id === id)) this.expanded.delete(id);
      this.render();
      $('settings-connections').dataset.loaded = 'true';
      await Promise.all([...this.expanded].map((id) => this.loadProfiles(id)));
    } catch (err) {
      this.failed(err, $('settings-error'));
    }
  }

  async loadProfiles(connectionId) {
    try {
      const list = await api.profiles(connectionId);
      if (this.closed) return;
      this.profiles.set(connectionId, list);
      this.renderProfiles(connectionId);
    } catch (err) {
      this.failed(err, $('settings-error'));
    }
  }

  row(connectionId) {
    return document.querySelector(`.settings-connection[data-id="${CSS.escape(connectionId)}"]`);
  }

  render() {
    const items = this.connections.map((c) => {
      const li = element('li', 'settings-connection');
      li.dataset.id = c.id;
      const head = element('div', 'row');
      const open = this.expanded.has(c.id);
      const expand = button('expand', '');
      expand.setAttribute('aria-expanded', String(open));
      expand.setAttribute('aria-label', `Sharing profiles of ${c.name}`);
      const name = element('span', 'name', c.name);
      const status = element('span', c.online ? 'status online' : 'status', c.online ? 'online' : 'offline');
      const regen = button('regenerate-token', 'Regenerate token');
      const del = button('delete-connection', 'Delete');
      head.append(expand, name, status, ...this.recordingSwitches(c), regen, del);
      const body = element('div', 'profiles');
      body.hidden = !open;
      const list = element('ul', 'profile-list');
      const add = button('new-profile', 'New Sharing Profile');
      body.append(list, add);
      li.append(head, body);
      expand.addEventListener('click', () => this.toggle(c.id));
      add.addEventListener('click', () => this.openForm(c.id, null));
      regen.addEventListener('click', () => this.regenerateToken(c, regen));
      del.addEventListener('click', () => this.deleteConnection(c, del));
      return li;
    });
    if (items.length === 0) items.push(element('li', 'empty', 'No connections yet.'));
    $('settings-connections').replaceChildren(...items);
    for (const id of this.expanded) this.renderProfiles(id);
  }

  // The connection's "Record sessions" and "with key events" switches: they apply from its
  // next live session on.
  recordingSwitches(c) {
    const make = (className, text, checked, title) => {
      const label = element('label', className);
      label.title = title;
      const box = element('input');
      box.type = 'checkbox';
      box.checked = checked;
      label.append(box, ` ${text}`);
      return [label, box];
    };
    const [rec, recBox] = make('record-sessions', 'Record sessions', c.record, 'Record what everyone sees and does in its next sessions (everyone is shown so)');
    const [keys, keysBox] = make('record-keys', 'with keys', c.recordKeys, 'Keep key events too: everything typed, passwords included');
    keysBox.disabled = !c.record;
    const save = async () => {
      recBox.disabled = keysBox.disabled = true;
      try {
        Object.assign(c, await api.setRecording(c.id, recBox.checked, keysBox.checked));
        $('settings-error').textContent = '';
      } catch (err) {
        if (err.status === 401) this.onUnauthorized();
        else $('settings-error').textContent = err.message;
      }
      recBox.checked = c.record;
      keysBox.checked = c.recordKeys;
      recBox.disabled = false;
      keysBox.disabled = !c.record;
    };
    recBox.addEventListener('change', save);
    keysBox.addEventListener('change', save);
    return [rec, keys];
  }

  toggle(connectionId) {
    const li = this.row(connectionId);
    if (!li) return;
    const open = !this.expanded.has(connectionId);
    if (open) this.expanded.add(connectionId);
    else this.expanded.delete(connectionId);
    li.querySelector('.expand').setAttribute('aria-expanded', String(open));
    li.querySelector('.profiles').hidden = !open;
    if (open) this.loadProfiles(connectionId);
  }

  renderProfiles(connectionId) {
    const li = this.row(connectionId);
    const list = this.profiles.get(connectionId);
    if (!li || !list) return;
    const ul = li.querySelector('.profile-list');
    const items = list.map((p) => {
      const item = element('li');
      const b = button('profile', '');
      b.dataset.id = p.id;
      b.append(element('span', 'name', p.name), element('span', 'summary', profileSummary(p)));
      if (this.editing?.profile?.id === p.id) b.setAttribute('aria-current', 'true');
      b.addEventListener('click', () => this.openForm(connectionId, p));
      item.append(b);
      return item;
    });
    if (items.length === 0) items.push(element('li', 'empty', 'No sharing profiles.'));
    ul.replaceChildren(...items);
    ul.dataset.loaded = 'true';
  }

  // ---- the profile form ----

  clearErrors() {
    for (const field of Object.keys(FIELDS)) $(`${FIELDS[field]}-error`).textContent = '';
    $('profile-error').textContent = '';
  }

  openForm(connectionId, profile) {
    const conn = this.connections.find((c) => c.id === connectionId);
    this.editing = { connectionId, profile };
    const form = $('profile-form');
    form.hidden = false;
    form.dataset.connection = connectionId;
    if (profile) form.dataset.profile = profile.id;
    else delete form.dataset.profile;
    $('profile-title').textContent = profile ? `Sharing profile "${profile.name}"` : 'New sharing profile';
    $('profile-connection').textContent = conn ? `Connection: ${conn.name}` : '';
    $('profile-name').value = profile?.name ?? '';
    $('profile-readonly').checked = profile?.readOnly ?? false;
    this.setLifetime(profile?.linkLifetime ?? 0);
    $('profile-maxguests').value = profile?.maxGuests ? String(profile.maxGuests) : '';
    $('profile-passcode').checked = profile?.passcode ?? false;
    $('profile-singleuse').checked = profile?.singleUse ?? false;
    $('profile-admit').checked = profile?.admit ?? false;
    $('profile-askcontrol').checked = profile?.askControl ?? false;
    $('profile-delete').hidden = !profile;
    $('profile-clone').hidden = !profile;
    this.clearErrors();
    for (const id of this.expanded) this.renderProfiles(id);
    $('profile-name').focus();
  }

  // Selects a lifetime, adding an option for one the list lacks (set through the API).
  setLifetime(seconds) {
    const select = $('profile-lifetime');
    select.querySelector('option.custom')?.remove();
    if (!LIFETIMES.some(([s]) => s === seconds)) {
      const o = element('option', 'custom', durationText(seconds));
      o.value = String(seconds);
      select.append(o);
    }
    select.value = String(seconds);
  }

  closeForm() {
    this.editing = null;
    $('profile-form').hidden = true;
    for (const id of this.expanded) this.renderProfiles(id);
  }

  // Shows an API error next to the field it names, or under the form.
  showError(err) {
    if (err.status === 401) {
      this.onUnauthorized();
      return;
    }
    const input = FIELDS[err.field];
    $(input ? `${input}-error` : 'profile-error').textContent = err.message;
    if (input) $(input).focus();
  }

  async save(e) {
    e.preventDefault();
    const editing = this.editing;
    if (!editing) return;
    this.clearErrors();
    const guests = parseMaxGuests($('profile-maxguests').value);
    if (guests.error) {
      this.showError({ field: 'maxGuests', message: guests.error });
      return;
    }
    const fields = {
      name: $('profile-name').value.trim(),
      readOnly: $('profile-readonly').checked,
      linkLifetime: Number($('profile-lifetime').value),
      maxGuests: guests.value,
      passcode: $('profile-passcode').checked,
      singleUse: $('profile-singleuse').checked,
      admit: $('profile-admit').checked,
      askControl: $('profile-askcontrol').checked,
    };
    if (fields.name === '') {
      this.showError({ field: 'name', message: 'Enter a name' });
      return;
    }
    const b = $('profile-save');
    b.disabled = true;
    try {
      const saved = editing.profile
        ? await api.updateProfile(editing.profile.id, fields)
        : await api.createProfile(editing.connectionId, fields);
      if (this.closed || this.editing !== editing) return;
      await this.loadProfiles(editing.connectionId);
      if (this.closed) return;
      this.openForm(editing.connectionId, saved);
      $('profile-form').dataset.saved = String(++this.saves);
    } catch (err) {
      if (!this.closed && this.editing === editing) this.showError(err);
    } finally {
      b.disabled = false;
    }
  }

  async remove(b) {
    const editing = this.editing;
    if (!editing?.profile || !confirmed(b, 'Delete')) return;
    b.disabled = true;
    try {
      await api.deleteProfile(editing.profile.id);
      if (this.closed) return;
      if (this.editing === editing) this.closeForm();
      await this.loadProfiles(editing.connectionId);
    } catch (err) {
      if (!this.closed && this.editing === editing) this.showError(err);
    } finally {
      b.disabled = false;
    }
  }

  // Copies the profile as "<name> (copy)", trying " 2", " 3"… while the name is taken, and
  // opens the copy.
  async clone(b) {
    const editing = this.editing;
    if (!editing?.profile) return;
    this.clearErrors();
    b.disabled = true;
    try {
      let copy = null;
      for (let n = 1; !copy && n <= MAX_CLONE_TRIES; n++) {
        try {
          copy = await api.cloneProfile(editing.profile.id, cloneName(editing.profile.name, n));
        } catch (err) {
          if (err.status !== 409 || n === MAX_CLONE_TRIES) throw err;
        }
      }
      if (this.closed || this.editing !== editing) return;
      await this.loadProfiles(editing.connectionId);
      if (!this.closed) this.openForm(editing.connectionId, copy);
    } catch (err) {
      if (!this.closed && this.editing === editing) this.showError({ status: err.status, message: `Clone: ${err.message}` });
    } finally {
      b.disabled = false;
    }
  }

  // ---- connections ----

  async addConnection(e) {
    e.preventDefault();
    const input = $('new-connection-name');
    const error = $('new-connection-error');
    error.textContent = '';
    const name = input.value.trim();
    if (name === '') {
      error.textContent = 'Enter a name';
      return;
    }
    try {
      const c = await api.createConnection(name);
      if (this.closed) return;
      input.value = '';
      await this.showToken(c);
    } catch (err) {
      this.failed(err, error);
    }
  }

  /** Shows a connection's agent token, this once, and reloads the list. */
  async showToken(c) {
    $('new-connection-result-name').textContent = c.name;
    $('new-connection-token').value = c.agentToken;
    $('new-connection-result').hidden = false;
    await this.load();
  }

  async regenerateToken(c, b) {
    if (!confirmed(b, 'Regenerate token')) return;
    b.disabled = true;
    try {
      const fresh = await api.regenerateToken(c.id);
      if (!this.closed) await this.showToken(fresh);
    } catch (err) {
      b.disabled = false;
      this.failed(err, $('settings-error'));
    }
  }

  async deleteConnection(c, b) {
    if (!confirmed(b, 'Delete')) return;
    b.disabled = true;
    try {
      await api.deleteConnection(c.id);
      if (this.closed) return;
      this.expanded.delete(c.id);
      this.profiles.delete(c.id);
      if (this.editing?.connectionId === c.id) this.closeForm();
      await this.load();
    } catch (err) {
      b.disabled = false;
      this.failed(err, $('settings-error'));
    }
  }
}
