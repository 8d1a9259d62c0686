// Maps DOM KeyboardEvents to X11 keysyms, the key codes of the input channel
// (docs/PROTOCOL.md, section 3.3).

// Keys named by KeyboardEvent.key that have one keysym whatever their location.
const NAMED = new Map(Object.entries({
  Backspace: 0xff08,
  Tab: 0xff09,
  Enter: 0xff0d,
  Pause: 0xff13,
  ScrollLock: 0xff14,
  Escape: 0xff1b,
  Home: 0xff50,
  ArrowLeft: 0xff51,
  ArrowUp: 0xff52,
  ArrowRight: 0xff53,
  ArrowDown: 0xff54,
  PageUp: 0xff55,
  PageDown: 0xff56,
  End: 0xff57,
  PrintScreen: 0xff61,
  Insert: 0xff63,
  ContextMenu: 0xff67,
  NumLock: 0xff7f,
  CapsLock: 0xffe5,
  AltGraph: 0xfe03,
  Delete: 0xffff,
}));
for (let i = 1; i <= 12; i++) NAMED.set(`F${i}`, 0xffbe + i - 1);

// Modifiers: [left, right] keysyms, picked by KeyboardEvent.location.
const MODIFIERS = new Map([
  ['Shift', [0xffe1, 0xffe2]],
  ['Control', [0xffe3, 0xffe4]],
  ['Meta', [0xffe7, 0xffe8]],
  ['Alt', [0xffe9, 0xffea]],
]);

const DOM_KEY_LOCATION_RIGHT = 2;

/**
 * Returns the X11 keysym for a KeyboardEvent (anything with key and location), or 0 when
 * the key has none we send (dead keys, IME composition, unknown names, control characters).
 */
export function keysymFor(event) {
  const key = event.key;
  if (typeof key !== 'string' || key === '') return 0;
  const mod = MODIFIERS.get(key);
  if (mod) return event.location === DOM_KEY_LOCATION_RIGHT ? mod[1] : mod[0];
  if (NAMED.has(key)) return NAMED.get(key);
  const chars = [...key];
  if (chars.length !== 1) return 0;
  const c = chars[0].codePointAt(0);
  if ((c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff)) return c;
  if (c < 0x20 || (c >= 0x7f && c < 0xa0)) return 0;
  return 0x01000000 + c;
}
