// The recording player (#/recording/<id>, admins): plays a session recording on the session
// view's display code — play/pause, seek, 1x/2x/4x, the participants' joins and leaves on the
// timeline — and follows a recording still being written. Seeking replays from the last full
// frame (a SIZE) at or before the target, which the recorder asks for every few seconds.

import * as api from './api.js';
import { Display } from './display.js';
import { element } from './dom.js';
import { POINTER_COLORS, PointersView } from './pointers.js';
import { POINTER, VIDEO } from './protocol.js';
import { KIND_CONTROL, KIND_DISPLAY, KIND_INPUT, RecordingReader } from './recording.js';
import { videoSupported } from './video.js';

/** How often a live recording is read again. */
const FOLLOW_MS = 1000;
/** Most bytes of display messages handed to the display at once; more wait until it caught up. */
const BACKLOG_BYTES = 8 * 1024 * 1024;

const $ = (id) => document.getElementById(id);

/** Returns "m:ss" (or "h:mm:ss") for a time in milliseconds. */
export function clockText(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/**
 * Returns the joins and leaves between two rosters (Maps of name → connections, the second
 * from a presence message's participants), as [{at, text, kind: 'join'|'leave'}] ("Ana
 * (guest) joined", "Anonymous left (2 now)"), sorted by name. Comparing whole rosters, not the
 * message's joined and left lists, counts those present from the start and across a gap too.
 */
export function rosterEvents(at, before, after) {
  const out = [];
  for (const name of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const was = before.get(name) ?? 0;
    const now = after.get(name) ?? 0;
    if (was === now) continue;
    const kind = now > was ? 'join' : 'leave';
    const verb = kind === 'join' ? 'joined' : 'left';
    out.push({ at, kind, text: (kind === 'join' && now > 1) || (kind === 'leave' && now > 0) ? `${name} ${verb} (${now} now)` : `${name} ${verb}` });
  }
  return out;
}

/**
 * Returns the pointer an input record moves, {peer, name, x, y}, or null for another input
 * (keys, wheel, clipboard) or a malformed record.
 */
export function recordedPointer(data) {
  let m;
  try {
    m = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
  if (m?.type !== 'input' || typeof m.peer !== 'string' || typeof m.name !== 'string' || typeof m.input !== 'string') return null;
  let b;
  try {
    b = Uint8Array.from(atob(m.input), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
  if (b.length !== 6 || b[0] !== POINTER) return null;
  return { peer: m.peer, name: m.name, x: (b[1] << 8) | b[2], y: (b[3] << 8) | b[4] };
}

/** Returns a colour of POINTER_COLORS for a peer id, the same every time. */
export function pointerColor(peer) {
  let h = 0;
  for (let i = 0; i < peer.length; i++) h = (h * 31 + peer.charCodeAt(i)) >>> 0;
  return POINTER_COLORS[h % POINTER_COLORS.length];
}

/** Returns the roster of a presence message: a Map of name → connections. */
export function rosterOf(m) {
  const out = new Map();
  for (const p of Array.isArray(m?.participants) ? m.participants : []) {
    if (typeof p?.name === 'string' && Number.isSafeInteger(p.connections) && p.connections > 0) out.set(p.name, p.connections);
  }
  return out;
}

/**
 * PlayerView drives #view-player for recording id while shown; close() stops it. The view
 * carries data-state (loading, playing, paused, error), data-position and data-duration (ms),
 * data-pushed and data-applied (display messages handed to the display, and applied).
 */
export class PlayerView {
  constructor(id, { onUnauthorized }) {
    this.id = id;
    this.onUnauthorized = onUnauthorized;
    this.view = $('view-player');
    this.reader = new RecordingReader();
    this.display = new Display($('player-canvas'), { onCursor: () => {} });
    this.pointers = new PointersView($('player-pointers'), this.display, $('player-pointers-toggle'));
    this.pointerAt = new Map(); // peer → its pointer as of the position played
    this.position = 0;
    this.next = 0; // the index of the next record to apply
    this.playing = false;
    this.speed = 1;
    this.live = false;
    this.loaded = false;
    this.closed = false;
    this.pushed = 0;
    this.applied = 0;
    this.events = [];
    this.roster = new Map(); // as of the last presence record read
    this.videoNoticed = false;
    this.timer = 0;
    this.frame = 0;
    this.last = 0;
    $('player-events').replaceChildren();
    $('player-marks').replaceChildren();
    $('player-error').textContent = '';
    $('player-title').textContent = 'Recording';
    $('player-download').href = api.recordingURL(id, true);
    this.setState('loading');
    this.listeners = [
      [$('player-play'), 'click', () => (this.playing ? this.pause() : this.play())],
      [$('player-speed'), 'change', () => (this.speed = Number($('player-speed').value) || 1)],
      [$('player-seek'), 'input', () => this.seek(Number($('player-seek').value))],
    ];
    for (const [target, type, fn] of this.listeners) target.addEventListener(type, fn);
    $('player-speed').value = '1';
    this.load();
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    cancelAnimationFrame(this.frame);
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    this.pointers.close();
    this.display.close();
  }

  setState(state) {
    this.view.dataset.state = state;
    $('player-play').textContent = state === 'playing' ? 'Pause' : 'Play';
  }

  // Reads what the recording holds beyond what was read, and again while it is live.
  async load() {
    let got;
    try {
      got = await api.recordingBytes(this.id, this.reader.total);
    } catch (err) {
      if (this.closed) return;
      if (err.status === 401) this.onUnauthorized();
      $('player-error').textContent = err.message;
      this.setState('error');
      return;
    }
    if (this.closed) return;
    const before = this.reader.records.length;
    this.reader.append(got.bytes);
    this.live = got.live;
    if (this.reader.error) $('player-error').textContent = `The recording is damaged from here on: ${this.reader.error}`;
    this.addEvents(before);
    const meta = this.reader.meta;
    if (meta) $('player-title').textContent = `${meta.connectionName || 'Recording'} · ${new Date(meta.started).toLocaleString()}${this.live ? ' · live' : ''}`;
    if (!this.loaded && meta) {
      this.loaded = true;
      this.play();
    }
    this.render();
    if (this.live) this.timer = setTimeout(() => this.load(), FOLLOW_MS);
  }

  // Lists and marks the joins and leaves of the records from index from on.
  addEvents(from) {
    const records = this.reader.records;
    for (let i = from; i < records.length; i++) {
      const r = records[i];
      if (r.kind === KIND_DISPLAY && r.data[0] === VIDEO && !this.videoNoticed && !videoSupported()) {
        this.videoNoticed = true;
        $('player-error').textContent = 'This recording has video regions, which this page cannot play: open it over https.';
      }
      if (r.kind !== KIND_CONTROL) continue;
      let m;
      try {
        m = JSON.parse(new TextDecoder().decode(r.data));
      } catch {
        continue;
      }
      if (m?.type !== 'presence') continue;
      const roster = rosterOf(m);
      const events = rosterEvents(r.at, this.roster, roster);
      this.roster = roster;
      for (const ev of events) {
        this.events.push(ev);
        const li = element('li', `player-event ${ev.kind}`);
        const time = element('button', 'time', clockText(ev.at));
        time.type = 'button';
        time.addEventListener('click', () => this.seek(ev.at));
        li.append(time, ` ${ev.text}`);
        $('player-events').append(li);
      }
    }
    this.renderMarks();
  }

  renderMarks() {
    const d = this.reader.duration() || 1;
    $('player-marks').replaceChildren(
      ...this.events.map((ev) => {
        const mark = element('span', `mark ${ev.kind}`);
        mark.style.left = `${(100 * ev.at) / d}%`;
        mark.title = `${clockText(ev.at)} ${ev.text}`;
        return mark;
      }),
    );
  }

  play() {
    if (this.position >= this.reader.duration() && !this.live) this.seek(0);
    this.playing = true;
    this.last = performance.now();
    this.setState('playing');
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame((now) => this.tick(now));
  }

  pause() {
    this.playing = false;
    cancelAnimationFrame(this.frame);
    this.setState('paused');
    this.render();
  }

  tick(now) {
    if (this.closed || !this.playing) return;
    const end = this.reader.duration();
    this.position = Math.min(this.position + (now - this.last) * this.speed, end);
    this.last = now;
    this.applyUntil(this.position);
    this.render();
    if (this.position >= end && !this.live) {
      this.pause();
      return;
    }
    this.frame = requestAnimationFrame((t) => this.tick(t));
  }

  /** Shows the recording at time t (ms): replays from the last full frame before it. */
  seek(t) {
    const target = Math.max(0, Math.min(t, this.reader.duration()));
    const k = this.reader.keyframeBefore(target);
    const forward = target >= this.position && (k < 0 || k < this.next);
    if (!forward) {
      this.display.dropBacklog();
      this.applied = this.pushed; // what was dropped counts as done
      this.next = Math.max(k, 0);
      this.pointerAt.clear(); // where each pointer was as of the full frame
      for (let i = 0; i < this.next; i++) this.notePointer(this.reader.records[i]);
    }
    this.position = target;
    this.applyUntil(target);
    this.render();
  }

  // Applies every record up to time t; past BACKLOG_BYTES waiting in the display, the rest
  // waits until the display caught up (a long seek), and goes on then.
  applyUntil(t) {
    const records = this.reader.records;
    while (this.next < records.length && records[this.next].at <= t) {
      const r = records[this.next];
      this.notePointer(r);
      if (r.kind === KIND_DISPLAY) {
        if (this.display.queue.bytes + r.data.length > BACKLOG_BYTES) {
          this.resumeWhenIdle();
          return;
        }
        this.display.push(r.data.buffer, () => {
          this.applied++;
          this.view.dataset.applied = String(this.applied);
        });
        this.pushed++;
      }
      this.next++;
    }
  }

  // Moves the pointer an input record moves.
  notePointer(r) {
    if (r.kind !== KIND_INPUT) return;
    const p = recordedPointer(r.data);
    if (p) this.pointerAt.set(p.peer, { ...p, color: pointerColor(p.peer) });
  }

  resumeWhenIdle() {
    if (this.resuming) return;
    this.resuming = true;
    this.display.queue.idle().then(() => {
      this.resuming = false;
      if (!this.closed) this.applyUntil(this.position);
      this.render();
    });
  }

  render() {
    const d = this.reader.duration();
    const seek = $('player-seek');
    seek.max = String(d);
    seek.value = String(Math.round(this.position));
    $('player-time').textContent = `${clockText(this.position)} / ${clockText(d)}`;
    this.pointers.update([...this.pointerAt.values()]);
    Object.assign(this.view.dataset, {
      position: String(Math.round(this.position)),
      duration: String(d),
      pushed: String(this.pushed),
      applied: String(this.applied),
    });
  }
}
