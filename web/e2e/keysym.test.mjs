// Unit tests of KeyboardEvent → X11 keysym mapping (web/static/keysym.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keysymFor } from '../static/keysym.js';

test('keysyms', () => {
  const cases = [
    [{ key: 'a' }, 0x61],
    [{ key: 'A' }, 0x41],
    [{ key: ' ' }, 0x20],
    [{ key: '~' }, 0x7e],
    [{ key: 'é' }, 0xe9],
    [{ key: '\u00a0' }, 0xa0],
    [{ key: '€' }, 0x010020ac],
    [{ key: '😀' }, 0x0101f600],
    [{ key: 'Backspace' }, 0xff08],
    [{ key: 'Tab' }, 0xff09],
    [{ key: 'Enter' }, 0xff0d],
    [{ key: 'Escape' }, 0xff1b],
    [{ key: 'Delete' }, 0xffff],
    [{ key: 'Home' }, 0xff50],
    [{ key: 'ArrowLeft' }, 0xff51],
    [{ key: 'ArrowUp' }, 0xff52],
    [{ key: 'ArrowRight' }, 0xff53],
    [{ key: 'ArrowDown' }, 0xff54],
    [{ key: 'PageUp' }, 0xff55],
    [{ key: 'PageDown' }, 0xff56],
    [{ key: 'End' }, 0xff57],
    [{ key: 'Insert' }, 0xff63],
    [{ key: 'F1' }, 0xffbe],
    [{ key: 'F12' }, 0xffc9],
    [{ key: 'Shift', location: 1 }, 0xffe1],
    [{ key: 'Shift', location: 2 }, 0xffe2],
    [{ key: 'Control', location: 1 }, 0xffe3],
    [{ key: 'Control', location: 2 }, 0xffe4],
    [{ key: 'Alt', location: 1 }, 0xffe9],
    [{ key: 'Alt', location: 2 }, 0xffea],
    [{ key: 'Meta', location: 1 }, 0xffe7],
    [{ key: 'Meta', location: 2 }, 0xffe8],
    [{ key: 'CapsLock' }, 0xffe5],
    [{ key: 'Dead' }, 0],
    [{ key: 'Unidentified' }, 0],
    [{ key: 'F13' }, 0],
    [{ key: '\u0007' }, 0],
    [{ key: '\u0085' }, 0],
    [{ key: 'ab' }, 0],
    [{ key: '' }, 0],
    [{}, 0],
    [{ key: 'toString' }, 0],
  ];
  for (const [event, want] of cases) {
    assert.equal(keysymFor(event), want, JSON.stringify(event));
  }
});
