// Share URLs (/s/<key>): the key is taken out of the address bar on the first load and kept in
// this tab's sessionStorage, so a reload of the tab still joins while the link lives; so is
// the name a guest chose.

/** The route a share join shows once the key is out of the address bar. */
export const SHARED_ROUTE = '#/shared';

const STORAGE_KEY = 'peerdesk.shareKey';
const NAME_KEY = 'peerdesk.guestName';
const PASSCODE_KEY = 'peerdesk.sharePasscode';

/** Most characters of a guest's name (the server's limit). */
export const MAX_GUEST_NAME = 32;

/**
 * Returns the name this tab's guest chose (possibly '' for Anonymous), or null before they
 * chose: a reload of the tab joins again under the same name without asking.
 */
export function guestName(storage) {
  return storage.getItem(NAME_KEY);
}

/** Keeps the name this tab's guest chose, trimmed and cut to MAX_GUEST_NAME characters. */
export function setGuestName(storage, name) {
  const n = [...String(name).trim()].slice(0, MAX_GUEST_NAME).join('');
  storage.setItem(NAME_KEY, n);
  return n;
}
const PATH = /^\/s\/([A-Za-z0-9_-]{16,128})\/?$/;

/**
 * Returns the key of a share path ("/s/<key>"), or '' for any other path or a key that is
 * not URL-safe base64 of a plausible length (the server answers such keys as invalid too).
 * A path under /s/ with a bad key returns null: it is a share URL, but not a valid one.
 */
export function shareKeyFromPath(pathname) {
  if (typeof pathname !== 'string' || !pathname.startsWith('/s/')) return '';
  const m = PATH.exec(pathname);
  return m ? m[1] : null;
}

/**
 * Moves a share key from the address bar into storage (a sessionStorage-like object) and
 * replaces the address with SHARED_ROUTE through replace(url). Returns the key in storage —
 * the one just taken, or the one a reload of this tab kept — or '' when there is none.
 * A share path with a malformed key clears the stored one and returns null.
 */
export function takeShareKey(pathname, storage, replace) {
  const key = shareKeyFromPath(pathname);
  if (key === '') return storage.getItem(STORAGE_KEY) ?? '';
  replace(`/${SHARED_ROUTE}`);
  if (key === null) {
    storage.removeItem(STORAGE_KEY);
    return null;
  }
  if (storage.getItem(STORAGE_KEY) !== key) { // another link: its own name and passcode
    storage.removeItem(NAME_KEY);
    storage.removeItem(PASSCODE_KEY);
  }
  storage.setItem(STORAGE_KEY, key);
  return key;
}

/** Returns the passcode this tab entered for its link, or '' for none. */
export function savedPasscode(storage) {
  return storage.getItem(PASSCODE_KEY) ?? '';
}

/** Keeps the passcode this tab entered, so that a reload joins again without asking. */
export function savePasscode(storage, passcode) {
  storage.setItem(PASSCODE_KEY, passcode);
}

/** Forgets this tab's share key, guest name and passcode (the user left the shared session). */
export function forgetShareKey(storage) {
  storage.removeItem(STORAGE_KEY);
  storage.removeItem(NAME_KEY);
  storage.removeItem(PASSCODE_KEY);
}
