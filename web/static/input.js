// Captures pointer, wheel and keyboard input on the session view and turns it into
// input-channel messages (docs/PROTOCOL.md, section 3.3).

import { pasteAction } from './clipboard.js';
import { keysymFor } from './keysym.js';
import { BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT, encodeKey, encodePointAt, encodePointer, encodeWheel } from './protocol.js';

// A wheel event of at least this many pixels is a notch of a mouse wheel; smaller ones
// (touchpads) add up until they make a whole step.
const NOTCH_MIN_PX = 50;
const NOTCH_PX = 120;
const SMOOTH_STEP_PX = 100;
const LINE_PX = 40;
const PAGE_PX = 800;
/** Least time between two POINT_AT messages: at most 30 a second. */
const POINT_AT_MS = 1000 / 30;

/** Maps DOM MouseEvent.buttons (1 left, 2 right, 4 middle) to the wire bits. */
export function wireButtons(domButtons) {
  return (
    (domButtons & 1 ? BUTTON_LEFT : 0) |
    (domButtons & 4 ? BUTTON_MIDDLE : 0) |
    (domButtons & 2 ? BUTTON_RIGHT : 0)
  );
}

/**
 * WheelSteps turns wheel deltas into whole steps: one per mouse-wheel notch, and one per
 * SMOOTH_STEP_PX of accumulated touchpad scrolling.
 */
export class WheelSteps {
  constructor() {
    this.acc = 0;
  }

  /** Returns the signed number of steps for one event's delta in the given deltaMode. */
  add(delta, mode) {
    const px = delta * (mode === 1 ? LINE_PX : mode === 2 ? PAGE_PX : 1);
    if (!Number.isFinite(px) || px === 0) return 0;
    if (Math.abs(px) >= NOTCH_MIN_PX) {
      this.acc = 0;
      return Math.sign(px) * Math.max(1, Math.round(Math.abs(px) / NOTCH_PX));
    }
    if (Math.sign(px) !== Math.sign(this.acc)) this.acc = 0;
    this.acc += px;
    const steps = Math.trunc(this.acc / SMOOTH_STEP_PX) || 0; // never -0
    this.acc -= steps * SMOOTH_STEP_PX;
    return steps;
  }
}

function editable(el) {
  return el instanceof HTMLElement && (el.isContentEditable || el.matches('input, textarea, select'));
}

/** Reports whether a keydown is the browser's paste shortcut (Ctrl+V, Cmd+V, Shift+Insert). */
export function isPasteKey(e) {
  if (e.altKey) return false;
  if ((e.ctrlKey || e.metaKey) && (e.code === 'KeyV' || e.key === 'v' || e.key === 'V')) return true;
  return e.shiftKey && !e.ctrlKey && !e.metaKey && e.key === 'Insert';
}

/**
 * InputCapture listens on a Display's canvas (pointer, wheel) and on the document
 * (keyboard, paste) and hands encoded messages to sink, an object with canSend(),
 * send(bytes), notice(text) (a paste too long to send) and, optionally, pointAt(bytes) (a
 * viewer's pointer position). Nothing is captured or prevented while sink.canSend() is false
 * (read-only, channel down), but pointer moves go to pointAt. The paste shortcut's keys go to
 * the host too, but the browser still pastes: the text reaches the host clipboard as well.
 */
export class InputCapture {
  constructor(display, sink) {
    this.display = display;
    this.sink = sink;
    this.canvas = display.canvas;
    this.lastPointer = null; // [x, y, buttons] last sent, to drop repeats
    this.held = new Map(); // KeyboardEvent.code → keysym sent on its keydown
    this.wheelX = new WheelSteps();
    this.wheelY = new WheelSteps();
    this.listeners = [
      [this.canvas, 'pointermove', (e) => this.onPointer(e)],
      [this.canvas, 'pointerdown', (e) => this.onPointer(e)],
      [this.canvas, 'pointerup', (e) => this.onPointer(e)],
      [this.canvas, 'wheel', (e) => this.onWheel(e), { passive: false }],
      [this.canvas, 'contextmenu', (e) => e.preventDefault()],
      [document, 'keydown', (e) => this.onKey(e, true)],
      [document, 'keyup', (e) => this.onKey(e, false)],
      [document, 'paste', (e) => this.onPaste(e)],
      [window, 'blur', () => this.releaseKeys()],
    ];
    for (const [target, type, fn, opts] of this.listeners) target.addEventListener(type, fn, opts);
  }

  /** Releases held keys and removes every listener. */
  close() {
    clearTimeout(this.pointAtTimer);
    this.releaseKeys();
    for (const [target, type, fn, opts] of this.listeners) target.removeEventListener(type, fn, opts);
    this.listeners = [];
  }

  onPointer(e) {
    if (!this.sink.canSend()) {
      this.pointAt(e);
      return;
    }
    const p = this.display.toDesktop(e.clientX, e.clientY);
    if (!p) return;
    if (e.type === 'pointerdown') {
      e.preventDefault();
      this.canvas.focus({ preventScroll: true });
      this.canvas.setPointerCapture(e.pointerId);
    }
    const buttons = wireButtons(e.buttons);
    const last = this.lastPointer;
    if (last && last[0] === p.x && last[1] === p.y && last[2] === buttons) return;
    this.lastPointer = [p.x, p.y, buttons];
    this.sink.send(encodePointer(p.x, p.y, buttons));
  }

  // A viewer's pointer moves are still shown to the others (a laser pointer): POINT_AT, at
  // most 30 a second, through sink.pointAt — the last position of a burst always goes, at the
  // end of its interval; nothing reaches the host.
  pointAt(e) {
    if (e.type !== 'pointermove' || !this.sink.pointAt) return;
    const p = this.display.toDesktop(e.clientX, e.clientY);
    if (!p) return;
    this.pointAtNext = encodePointAt(p.x, p.y);
    if (this.pointAtTimer) return; // the pending send takes the newest position
    const wait = POINT_AT_MS - (performance.now() - (this.lastPointAt ?? -Infinity));
    if (wait <= 0) {
      this.flushPointAt();
      return;
    }
    this.pointAtTimer = setTimeout(() => this.flushPointAt(), wait);
  }

  flushPointAt() {
    this.pointAtTimer = 0;
    if (!this.pointAtNext || !this.listeners.length) return;
    this.lastPointAt = performance.now();
    this.sink.pointAt(this.pointAtNext);
    this.pointAtNext = null;
  }

  onWheel(e) {
    if (!this.sink.canSend()) return;
    e.preventDefault();
    const p = this.display.toDesktop(e.clientX, e.clientY);
    if (!p) return;
    const clamp = (v) => Math.max(-0x8000, Math.min(0x7fff, v));
    const dx = clamp(this.wheelX.add(e.deltaX, e.deltaMode));
    const dy = clamp(this.wheelY.add(e.deltaY, e.deltaMode));
    if (dx !== 0 || dy !== 0) this.sink.send(encodeWheel(p.x, p.y, dx, dy));
  }

  onKey(e, down) {
    if (editable(e.target) || e.isComposing) return;
    const id = e.code || `key:${e.key}`; // virtual keys may come without a code
    if (!down) {
      // Release what this key's press sent, even if modifiers changed its key value since.
      const keysym = this.held.get(id);
      if (keysym === undefined) return;
      this.held.delete(id);
      e.preventDefault();
      if (this.sink.canSend()) this.sink.send(encodeKey(keysym, false));
      return;
    }
    if (!this.sink.canSend()) return;
    const keysym = this.held.get(id) ?? keysymFor(e);
    if (keysym === 0) return;
    if (!isPasteKey(e)) e.preventDefault();
    this.held.set(id, keysym);
    this.sink.send(encodeKey(keysym, true));
  }

  onPaste(e) {
    if (editable(e.target) || !this.sink.canSend()) return;
    e.preventDefault();
    const action = pasteAction(e.clipboardData?.getData('text/plain') ?? '');
    if (action?.notice) this.sink.notice(action.notice);
    else if (action) this.sink.send(action.message);
  }

  releaseKeys() {
    const keysyms = [...this.held.values()];
    this.held.clear();
    if (!this.sink.canSend()) return;
    for (const keysym of keysyms) this.sink.send(encodeKey(keysym, false));
  }
}
