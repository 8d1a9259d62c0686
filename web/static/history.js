// Settings → History (#/settings/history, admins): ended and live sessions, newest first, a
// page at a time, each with its participants: who (username or Anonymous, with the share
// link's profile), from which address, when they joined and left, and whether read-only; a
// recorded session links its recording's player and file.

import * as api from './api.js';
import { button, confirmed, element } from './dom.js';
import { elapsedText, timeText } from './format.js';

/** Sessions per History page. */
export const PAGE_SIZE = 20;

/** Returns the text of a page's place in the history: "1–20 of 57", "No sessions yet." */
export function pageText(offset, count, total) {
  if (total === 0) return 'No sessions yet.';
  if (count === 0) return `none of ${total}`;
  return `${offset + 1}–${offset + count} of ${total}`;
}

/** Returns the one-line summary of a history session. */
export function sessionSummary(s) {
  const parts = [`owner ${s.owner || '?'}`, `started ${timeText(s.startedAt)}`];
  if (s.endedAt) {
    parts.push(`ended ${timeText(s.endedAt)} (${elapsedText(s.startedAt, s.endedAt)})`);
    if (s.endReason) parts.push(s.endReason);
  } else {
    parts.push('live');
  }
  return parts.join(' · ');
}

const $ = (id) => document.getElementById(id);

function cell(className, text) {
  return element('td', className, text);
}

/**
 * HistoryView drives #panel-history while it is shown; onUnauthorized is called when the
 * login session turns out to be gone. #history counts its renderings in data-loads.
 * close() stops it.
 */
export class HistoryView {
  constructor({ onUnauthorized }) {
    this.onUnauthorized = onUnauthorized;
    this.closed = false;
    this.offset = 0;
    this.loading = 0; // bumped per load: only the newest reply is rendered
    this.table = $('history');
    this.table.querySelectorAll('tbody').forEach((b) => b.remove());
    delete this.table.dataset.loads;
    $('history-page').textContent = '';
    $('history-error').textContent = '';
    $('history-newer').disabled = true;
    $('history-older').disabled = true;
    this.listeners = [
      [$('history-refresh'), 'click', () => this.load()],
      [$('history-newer'), 'click', () => this.go(this.offset - PAGE_SIZE)],
      [$('history-older'), 'click', () => this.go(this.offset + PAGE_SIZE)],
    ];
    for (const [target, type, fn] of this.listeners) target.addEventListener(type, fn);
    this.load();
  }

  /** Stops the view: later replies are dropped. */
  close() {
    this.closed = true;
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    this.listeners = [];
  }

  go(offset) {
    this.offset = Math.max(0, offset);
    this.load();
  }

  async load() {
    const n = ++this.loading;
    try {
      const page = await api.history(this.offset, PAGE_SIZE);
      if (this.closed || n !== this.loading) return;
      $('history-error').textContent = '';
      // Past the end (sessions were deleted with their connection): show the last page.
      if (page.sessions.length === 0 && this.offset > 0 && page.total > 0) {
        this.go(Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE);
        return;
      }
      this.render(page);
    } catch (err) {
      if (this.closed || n !== this.loading) return;
      if (err.status === 401) this.onUnauthorized();
      else $('history-error').textContent = err.message;
    }
  }

  render({ total, sessions }) {
    this.table.querySelectorAll('tbody').forEach((b) => b.remove());
    this.table.append(...sessions.map((s) => this.group(s)));
    $('history-page').textContent = pageText(this.offset, sessions.length, total);
    $('history-newer').disabled = this.offset === 0;
    $('history-older').disabled = this.offset + sessions.length >= total;
    this.table.dataset.total = String(total);
    this.table.dataset.loads = String(Number(this.table.dataset.loads ?? 0) + 1);
  }

  // The button that deletes a session's recording (confirmed by a second click).
  deleteButton(s) {
    const b = button('history-recording delete-recording', 'Delete recording');
    b.addEventListener('click', async () => {
      if (!confirmed(b, 'Delete recording')) return;
      b.disabled = true;
      try {
        await api.deleteRecording(s.recording);
        this.load();
      } catch (err) {
        b.disabled = false;
        if (err.status === 401) this.onUnauthorized();
        else $('history-error').textContent = err.message;
      }
    });
    return b;
  }

  // A session: its row, then a row per participant.
  group(s) {
    const body = element('tbody', 'history-session');
    const head = element('tr', 'history-row');
    head.dataset.id = s.id;
    head.dataset.owner = s.owner;
    const summary = cell('summary');
    summary.colSpan = 6;
    summary.append(element('span', 'connection', s.connection.name), ' ', element('span', 'muted', sessionSummary(s)));
    if (s.recording) {
      const play = element('a', 'history-recording', s.endedAt ? 'Play recording' : 'Watch recording');
      play.href = `#/recording/${encodeURIComponent(s.recording)}`;
      const download = element('a', 'history-recording', 'Download');
      download.href = api.recordingURL(s.recording, true);
      summary.append(play, download);
      if (s.endedAt) summary.append(this.deleteButton(s));
    }
    head.append(summary);
    body.append(head);
    for (const p of s.participants) {
      const tr = element('tr', 'history-participant');
      tr.dataset.joined = p.joinedAt?.toISOString() ?? '';
      tr.dataset.left = p.leftAt?.toISOString() ?? '';
      tr.dataset.readOnly = String(p.readOnly);
      const who = cell('who');
      who.append(element('span', 'name', p.name));
      if (p.profile) who.append(' ', element('span', 'link-profile', p.profile));
      tr.append(
        who,
        cell('role', p.role),
        cell('address', p.address),
        cell('joined', timeText(p.joinedAt)),
        cell('left', p.leftAt ? timeText(p.leftAt) : 'present'),
        cell('access', p.readOnly ? 'view only' : 'full'),
      );
      body.append(tr);
    }
    if (s.participants.length === 0) {
      const tr = element('tr', 'history-empty');
      const none = cell('', 'No participants recorded.');
      none.colSpan = 6;
      tr.append(none);
      body.append(tr);
    }
    return body;
  }
}
