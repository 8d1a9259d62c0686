// Settings → Active Sessions (#/settings/sessions, admins): every live session with its
// connection, owner, start time, duration and participants; Join opens it, Kill ends it.

import * as api from './api.js';
import { button, confirmed, element } from './dom.js';
import { elapsedText, timeText } from './format.js';
import { countText } from './presence.js';

const REFRESH_MS = 3000;

const $ = (id) => document.getElementById(id);

/**
 * ActiveSessionsView drives #panel-sessions while it is shown, refreshing the list every few
 * seconds. opts:
 *   onJoin(connectionId)  Join was clicked on a session of that connection
 *   onUnauthorized()      the login session turned out to be gone
 * #live-sessions counts its renderings in data-loads. close() stops it.
 */
export class ActiveSessionsView {
  constructor({ onJoin, onUnauthorized }) {
    this.onJoin = onJoin;
    this.onUnauthorized = onUnauthorized;
    this.closed = false;
    this.list = $('live-sessions');
    this.list.replaceChildren();
    delete this.list.dataset.loads;
    $('sessions-error').textContent = '';
    this.load();
    this.timer = setInterval(() => this.load(), REFRESH_MS);
  }

  /** Stops refreshing; later replies are dropped. */
  close() {
    this.closed = true;
    clearInterval(this.timer);
  }

  failed(err) {
    if (this.closed) return;
    if (err.status === 401) this.onUnauthorized();
    else $('sessions-error').textContent = err.message;
  }

  async load() {
    try {
      const sessions = await api.liveSessions();
      if (this.closed) return;
      $('sessions-error').textContent = '';
      this.render(sessions);
    } catch (err) {
      this.failed(err);
    }
  }

  // Updates the rows in place, so that an armed Kill button survives a refresh.
  render(sessions) {
    const now = Date.now();
    const rows = sessions.map((s) => {
      const li = this.row(s.id) ?? this.newRow(s);
      li.querySelector('.connection').textContent = s.connection.name;
      li.querySelector('.owner').textContent = s.owner;
      li.querySelector('.started').textContent = timeText(s.startedAt);
      li.querySelector('.duration').textContent = s.startedAt ? elapsedText(s.startedAt, now) : '';
      li.querySelector('.session-participants').replaceChildren(
        ...s.participants.map((p) => {
          const item = element('li', '', countText(p));
          item.title = `${p.role}${p.readOnly ? ', view only' : ''}`;
          return item;
        }),
      );
      return li;
    });
    if (rows.length === 0) rows.push(element('li', 'empty', 'No live sessions.'));
    this.list.replaceChildren(...rows);
    this.list.dataset.loads = String(Number(this.list.dataset.loads ?? 0) + 1);
  }

  row(id) {
    return this.list.querySelector(`.live-session[data-id="${CSS.escape(id)}"]`);
  }

  newRow(s) {
    const li = element('li', 'live-session');
    li.dataset.id = s.id;
    const head = element('div', 'row');
    const join = button('session-join', 'Join');
    const kill = button('session-kill danger', 'Kill');
    head.append(element('span', 'connection'), element('span', 'owner'), element('span', 'started'), element('span', 'duration'), join, kill);
    li.append(head, element('ul', 'session-participants'));
    join.addEventListener('click', () => this.onJoin(s.connection.id));
    kill.addEventListener('click', () => this.kill(s.id, kill));
    return li;
  }

  async kill(id, b) {
    if (!confirmed(b, 'Kill')) return;
    b.disabled = true;
    try {
      await api.killSession(id);
      if (!this.closed) await this.load();
    } catch (err) {
      b.disabled = false;
      this.failed(err);
    }
  }
}
