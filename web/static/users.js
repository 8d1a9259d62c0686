// Settings → Users (#/settings/users, admins): every account with its admin flag and the
// connections granted to it; New user (a typed password, or one generated and shown once),
// Reset password (generated, shown once), Delete — never one's own account or admin flag,
// and the server refuses to lose the last admin. Also the user menu's Change password form.

import * as api from './api.js';
import { button, confirmed, element } from './dom.js';

/** The shortest password the server takes. */
export const MIN_PASSWORD = 8;

/**
 * Checks a password typed twice: '' (both empty) is allowed when allowEmpty (the server then
 * generates one). Returns an error text, or '' when fine.
 */
export function passwordProblem(password, again, allowEmpty) {
  if (password === '' && again === '' && allowEmpty) return '';
  if (password.length < MIN_PASSWORD) return `The password must have at least ${MIN_PASSWORD} characters`;
  if (password !== again) return 'The two passwords differ';
  return '';
}

const $ = (id) => document.getElementById(id);

/**
 * UsersView drives #panel-users while it is shown: me is the logged-in username;
 * onUnauthorized is called when the login session is gone. #users carries data-loads (its
 * renderings). close() stops it.
 */
export class UsersView {
  constructor({ me, onUnauthorized }) {
    this.me = me;
    this.onUnauthorized = onUnauthorized;
    this.closed = false;
    this.body = $('users').tBodies[0];
    this.body.replaceChildren();
    delete $('users').dataset.loads;
    $('users-error').textContent = '';
    $('user-secret').hidden = true;
    this.onSubmit = (e) => this.create(e);
    $('new-user-form').addEventListener('submit', this.onSubmit);
    this.load();
  }

  /** Stops it; later replies are dropped. */
  close() {
    this.closed = true;
    $('new-user-form').removeEventListener('submit', this.onSubmit);
  }

  failed(err, where = 'users-error') {
    if (this.closed) return;
    if (err.status === 401) this.onUnauthorized();
    else $(where).textContent = err.message;
  }

  async load() {
    try {
      const [users, connections] = await Promise.all([api.users(), api.connections()]);
      if (this.closed) return;
      $('users-error').textContent = '';
      this.render(users, connections);
    } catch (err) {
      this.failed(err);
    }
  }

  render(users, connections) {
    this.body.replaceChildren(...users.map((u) => this.row(u, connections)));
    const t = $('users');
    t.dataset.loads = String(Number(t.dataset.loads ?? 0) + 1);
  }

  row(u, connections) {
    const self = u.username === this.me;
    const tr = element('tr', 'user');
    tr.dataset.username = u.username;
    tr.append(element('td', 'user-name', self ? `${u.username} (you)` : u.username));
    const admin = element('input', 'user-admin');
    admin.type = 'checkbox';
    admin.checked = u.admin;
    admin.disabled = self; // nobody removes their own admin rights
    admin.setAttribute('aria-label', `${u.username} is an administrator`);
    admin.addEventListener('change', () => this.act(api.setAdmin(u.id, admin.checked)));
    tr.append(tdWith(admin));
    const grants = element('td', 'user-connections');
    if (u.admin) grants.append(element('span', 'muted', 'all (administrator)'));
    for (const c of u.admin ? [] : connections) {
      const box = element('input', 'user-grant');
      box.type = 'checkbox';
      box.checked = u.connections.includes(c.id);
      box.dataset.connection = c.name;
      box.addEventListener('change', () => this.act(api.setGrant(u.id, c.id, box.checked)));
      const label = element('label', 'check');
      label.append(box, ` ${c.name}`);
      grants.append(label);
    }
    tr.append(grants);
    const actions = element('td', 'user-actions');
    if (!self) {
      const reset = button('user-reset', 'Reset password');
      reset.addEventListener('click', async () => {
        if (!confirmed(reset, 'Reset password')) return;
        try {
          this.showSecret(u.username, await api.resetPassword(u.id));
        } catch (err) {
          this.failed(err);
        }
      });
      const del = button('user-delete', 'Delete');
      del.addEventListener('click', () => {
        if (confirmed(del, 'Delete')) this.act(api.deleteUser(u.id));
      });
      actions.append(reset, del);
    }
    tr.append(actions);
    return tr;
  }

  // Waits for a change, then shows the list as the server has it (also after a refusal).
  async act(change) {
    try {
      await change;
    } catch (err) {
      this.failed(err);
    }
    if (!this.closed) this.load();
  }

  showSecret(username, password) {
    $('user-secret-name').textContent = username;
    $('user-secret-value').value = password;
    $('user-secret').hidden = false;
  }

  async create(e) {
    e.preventDefault();
    for (const f of ['username', 'password']) $(`new-user-${f}-error`).textContent = '';
    $('user-secret').hidden = true;
    const name = $('new-user-name').value.trim();
    const password = $('new-user-password').value;
    const problem = passwordProblem(password, $('new-user-again').value, true);
    if (problem) {
      $('new-user-password-error').textContent = problem;
      return;
    }
    try {
      const u = await api.createUser(name, password, $('new-user-admin').checked);
      if (this.closed) return;
      $('new-user-form').reset();
      if (u.password) this.showSecret(u.username, u.password);
      this.load();
    } catch (err) {
      const at = err.field === 'password' ? 'new-user-password-error' : 'new-user-username-error';
      this.failed(err, at);
    }
  }
}

function tdWith(node) {
  const td = element('td');
  td.append(node);
  return td;
}

/**
 * Wires the user menu's Change password form: opener shows it; a change keeps this login and
 * ends the others. onUnauthorized is called when the login session is gone.
 */
export function wirePasswordForm({ onUnauthorized }) {
  const form = $('password-form');
  const show = (on) => {
    form.hidden = !on;
    for (const id of ['password-current-error', 'password-new-error']) $(id).textContent = '';
    if (on) {
      form.reset();
      $('password-done').textContent = '';
      $('password-current').focus();
    }
  };
  $('password-open').addEventListener('click', () => show(form.hidden));
  $('password-cancel').addEventListener('click', () => show(false));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const id of ['password-current-error', 'password-new-error']) $(id).textContent = '';
    const problem = passwordProblem($('password-new').value, $('password-again').value, false);
    if (problem) {
      $('password-new-error').textContent = problem;
      return;
    }
    try {
      await api.changePassword($('password-current').value, $('password-new').value);
      form.reset();
      form.hidden = true;
      $('password-done').textContent = 'Password changed';
    } catch (err) {
      if (err.status === 401) onUnauthorized();
      else $(err.field === 'current' ? 'password-current-error' : 'password-new-error').textContent = err.message;
    }
  });
}
