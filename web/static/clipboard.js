// The clipboard both ways for full-access participants (docs/PROTOCOL.md, input 0x04 and
// control `clipboard`): a paste on the session view goes to the host clipboard, and the host
// clipboard's latest text is offered in the session bar, copied on a click.

import { encodeClipboard, MAX_CLIPBOARD, ProtocolError } from './protocol.js';

/** Characters of the host clipboard shown in the session bar. */
export const PREVIEW_CHARS = 24;

/** The notice shown for a paste too long to send. */
export const TOO_LONG = `Clipboard text is too long to paste (limit ${MAX_CLIPBOARD / 1024} KiB); nothing was sent`;

/**
 * Returns what pasting text does: {message} the input message to send, {notice} the reason
 * nothing is sent, or null for empty text (nothing to do).
 */
export function pasteAction(text) {
  if (typeof text !== 'string' || text === '') return null;
  try {
    return { message: encodeClipboard(text) };
  } catch (err) {
    if (err instanceof ProtocolError) return { notice: TOO_LONG };
    throw err;
  }
}

/** Returns a one-line preview of text: whitespace runs as one space, cut at PREVIEW_CHARS. */
export function clipboardPreview(text) {
  const flat = [...text.replace(/\s+/g, ' ').trim()];
  return flat.length > PREVIEW_CHARS ? `${flat.slice(0, PREVIEW_CHARS - 1).join('')}…` : flat.join('');
}

/**
 * HostClipboard is the session bar's button for the host clipboard. It is shown only to
 * full-access participants (setAllowed), holds the latest host text (set; also the button's
 * value) and copies it to the local clipboard on a click. onNotice(text) reports a copy
 * that failed.
 */
export class HostClipboard {
  constructor(button, onNotice) {
    this.button = button;
    this.onNotice = onNotice;
    this.text = '';
    this.onClick = () => this.copy();
    button.addEventListener('click', this.onClick);
    this.setAllowed(false);
    this.set('');
  }

  /** Shows the button to a full-access participant, hides it (and the text) otherwise. */
  setAllowed(allowed) {
    this.button.hidden = !allowed;
    if (!allowed) this.set('');
  }

  /** Keeps text as the host clipboard's latest and shows its preview. */
  set(text) {
    this.text = text;
    this.button.value = text;
    this.button.disabled = text === '';
    this.button.textContent = text === '' ? 'Host clipboard (empty)' : `Host clipboard: “${clipboardPreview(text)}”`;
  }

  async copy() {
    if (this.text === '') return;
    try {
      await navigator.clipboard.writeText(this.text);
    } catch (err) {
      this.onNotice(`Cannot copy the host clipboard: ${err.message}`);
    }
  }

  /** Removes the click handler and forgets the text. */
  close() {
    this.button.removeEventListener('click', this.onClick);
    this.setAllowed(false);
  }
}
