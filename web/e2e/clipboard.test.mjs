// Unit tests of the clipboard's pure parts: the input message (web/static/protocol.js,
// docs/PROTOCOL.md 3.3) and the paste and preview helpers (web/static/clipboard.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipboardPreview, pasteAction, PREVIEW_CHARS, TOO_LONG } from '../static/clipboard.js';
import * as p from '../static/protocol.js';

const hex = (b) => Buffer.from(b).toString('hex');

test('clipboard input has the documented bytes and round-trips UTF-8', () => {
  assert.equal(hex(p.encodeClipboard('hé')), '04' + '00000003' + '68c3a9');
  assert.equal(hex(p.encodeClipboard('')), '0400000000');
  for (const text of ['', 'peer → host, ß', 'line 1\r\nline 2', '😀 x']) {
    assert.deepEqual(p.decodeInput(p.encodeClipboard(text), 1, 1), { type: p.CLIPBOARD, text });
  }
  // A lone surrogate cannot go out as UTF-8: it is replaced.
  assert.equal(p.decodeInput(p.encodeClipboard('a\ud800'), 1, 1).text, 'a\ufffd');
});

test('clipboard text is limited to 32 KiB of UTF-8', () => {
  const max = 'x'.repeat(p.MAX_CLIPBOARD);
  assert.equal(p.encodeClipboard(max).length, 5 + p.MAX_CLIPBOARD);
  assert.throws(() => p.encodeClipboard(max + 'x'), p.ProtocolError);
  // The limit counts bytes, not characters: 16385 two-byte characters are too many.
  assert.throws(() => p.encodeClipboard('é'.repeat(p.MAX_CLIPBOARD / 2 + 1)), p.ProtocolError);
  assert.throws(() => p.encodeClipboard(42), p.ProtocolError);
});

test('malformed clipboard input is refused', () => {
  const msg = (len, body) => {
    const b = new Uint8Array(5 + body.length);
    b[0] = 0x04;
    new DataView(b.buffer).setUint32(1, len);
    b.set(body, 5);
    return b;
  };
  const bad = {
    'truncated header': new Uint8Array([4, 0, 0]),
    'length past the end': msg(4, [0x61]),
    'trailing bytes': msg(1, [0x61, 0x62]),
    'over the limit': msg(p.MAX_CLIPBOARD + 1, new Uint8Array(p.MAX_CLIPBOARD + 1)),
    'not UTF-8': msg(2, [0xc3, 0x28]),
  };
  for (const [what, b] of Object.entries(bad)) assert.throws(() => p.decodeInput(b, 1, 1), p.ProtocolError, what);
});

test('pasting sends the text, refuses too long text, ignores empty text', () => {
  assert.equal(pasteAction(''), null);
  assert.equal(pasteAction(undefined), null);
  assert.deepEqual([...pasteAction('hi').message], [...p.encodeClipboard('hi')]);
  assert.deepEqual(pasteAction('x'.repeat(p.MAX_CLIPBOARD + 1)), { notice: TOO_LONG });
  assert.match(TOO_LONG, /32 KiB/);
});

test('the host clipboard preview is one short line', () => {
  assert.equal(clipboardPreview('  hello\n\tworld  '), 'hello world');
  const long = clipboardPreview('é'.repeat(100));
  assert.equal([...long].length, PREVIEW_CHARS);
  assert.ok(long.endsWith('…'));
  assert.equal(clipboardPreview('😀'.repeat(PREVIEW_CHARS)), '😀'.repeat(PREVIEW_CHARS)); // code points, not UTF-16 units
});
