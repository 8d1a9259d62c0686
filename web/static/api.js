// Fetch wrappers for the signaling server's HTTP API (docs/PROTOCOL.md, section 1).
// The login session lives in the HttpOnly cookie peerdesk_session, which the browser
// sends by itself; these calls only need same-origin credentials.

import { parseIdentities } from './presence.js';

/**
 * ApiError is a failed API call: status is the HTTP status (0 when the request failed) and
 * field, for a validation error, names the request field at fault ('' otherwise).
 */
export class ApiError extends Error {
  constructor(status, message, field = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
  }
}

async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `cannot reach the server: ${err.message}`);
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    // A body that is not JSON leaves data null; the status decides below.
  }
  if (!res.ok) {
    const message = typeof data?.error === 'string' && data.error !== '' ? data.error : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message, typeof data?.field === 'string' ? data.field : '');
  }
  return data;
}

function account(data) {
  if (typeof data?.username !== 'string') throw new ApiError(0, 'malformed account reply');
  return { username: data.username, admin: data.admin === true };
}

/** Logs in; resolves to {username, admin}. Wrong credentials reject with status 401. */
export async function login(username, password) {
  return account(await call('POST', '/api/login', { username, password }));
}

/** Ends the login session. */
export async function logout() {
  await call('POST', '/api/logout');
}

/** Resolves to the logged-in {username, admin}; rejects with status 401 when logged out. */
export async function me() {
  return account(await call('GET', '/api/me'));
}

/**
 * Resolves to the connections the user may open: [{id, name, online, record, recordKeys}],
 * ids as strings.
 */
export async function connections() {
  const data = await call('GET', '/api/connections');
  if (!Array.isArray(data)) throw new ApiError(0, 'malformed connection list');
  return data.filter((c) => isId(c?.id) && typeof c.name === 'string').map(connectionInfo);
}

function connectionInfo(c) {
  return { id: String(c.id), name: c.name, online: c.online === true, record: c.record === true, recordKeys: c.recordKeys === true };
}

/** Sets whether a connection's sessions are recorded, with key events or not (admins). */
export async function setRecording(id, record, recordKeys) {
  const c = await call('PATCH', `/api/connections/${encodeURIComponent(id)}`, { record, recordKeys: record && recordKeys });
  if (!isId(c?.id) || typeof c.name !== 'string') throw new ApiError(0, 'malformed connection');
  return connectionInfo(c);
}

/** The URL of a recording's file; download makes it an attachment. */
export function recordingURL(id, download = false) {
  return `/api/recordings/${encodeURIComponent(id)}/file${download ? '?download=1' : ''}`;
}

/**
 * Fetches a recording's bytes from offset on: resolves to {bytes (ArrayBuffer), live (the
 * session is still recorded)}; bytes is empty when nothing came since offset.
 */
export async function recordingBytes(id, offset) {
  const headers = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  let res;
  try {
    res = await fetch(recordingURL(id), { credentials: 'same-origin', headers, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server: ${err.message}`);
  }
  const live = res.headers.get('X-Recording-Live') === '1';
  if (res.status === 416) return { bytes: new ArrayBuffer(0), live };
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new ApiError(res.status, typeof data?.error === 'string' ? data.error : `${res.status} ${res.statusText}`);
  }
  if (offset > 0 && res.status !== 206) throw new ApiError(0, 'the server ignored the range');
  return { bytes: await res.arrayBuffer(), live };
}

/** Deletes a recording (admins; not while its session is recorded). */
export async function deleteRecording(id) {
  await call('DELETE', `/api/recordings/${encodeURIComponent(id)}`);
}

/** Creates a connection; resolves to {id, name, agentToken} (the token is shown only once). */
export async function createConnection(name) {
  return withToken(await call('POST', '/api/connections', { name }));
}

/** Gives a connection a new agent token, shown this once; its agent is disconnected. */
export async function regenerateToken(id) {
  return withToken(await call('POST', `/api/connections/${encodeURIComponent(id)}/token`));
}

function withToken(c) {
  if (!isId(c?.id) || typeof c.name !== 'string' || typeof c.agentToken !== 'string') throw new ApiError(0, 'malformed connection');
  return { id: String(c.id), name: c.name, agentToken: c.agentToken };
}

/** Deletes a connection, ending its live session. */
export async function deleteConnection(id) {
  await call('DELETE', `/api/connections/${encodeURIComponent(id)}`);
}

// ---- sharing profiles ----

function isId(v) {
  return (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && v !== '');
}

function profile(p) {
  if (!isId(p?.id) || typeof p.name !== 'string') throw new ApiError(0, 'malformed sharing profile');
  const count = (v) => (Number.isSafeInteger(v) && v > 0 ? v : 0);
  return {
    id: String(p.id),
    connection: String(p.connection ?? ''),
    name: p.name,
    readOnly: p.readOnly === true,
    linkLifetime: count(p.linkLifetime),
    maxGuests: count(p.maxGuests),
    passcode: p.passcode === true,
    singleUse: p.singleUse === true,
    admit: p.admit === true,
    askControl: p.askControl === true,
  };
}

/** Resolves to the sharing profiles of a connection, ordered by name. */
export async function profiles(connectionId) {
  const data = await call('GET', `/api/connections/${encodeURIComponent(connectionId)}/profiles`);
  if (!Array.isArray(data)) throw new ApiError(0, 'malformed profile list');
  return data.map(profile);
}

/**
 * Creates a sharing profile from fields {name, readOnly, linkLifetime (seconds, 0 none),
 * maxGuests (0 none)}. A validation error rejects with status 400 and the field at fault.
 */
export async function createProfile(connectionId, fields) {
  return profile(await call('POST', `/api/connections/${encodeURIComponent(connectionId)}/profiles`, fields));
}

/** Updates a sharing profile with the fields of createProfile. */
export async function updateProfile(id, fields) {
  return profile(await call('PUT', `/api/profiles/${encodeURIComponent(id)}`, fields));
}

/** Deletes a sharing profile; its links stop working. */
export async function deleteProfile(id) {
  await call('DELETE', `/api/profiles/${encodeURIComponent(id)}`);
}

/** Copies a sharing profile under a new name; a taken name rejects with status 409. */
export async function cloneProfile(id, name) {
  return profile(await call('POST', `/api/profiles/${encodeURIComponent(id)}/clone`, { name }));
}

// ---- share links ----

function linkProfile(p) {
  if (!isId(p?.id) || typeof p.name !== 'string') throw new ApiError(0, 'malformed link profile');
  return { id: String(p.id), name: p.name, readOnly: p.readOnly === true };
}

/**
 * Makes a share link of the live session sid from a profile; resolves to {id, url, profile,
 * passcode} (passcode '' for a link without one; it is shown only now).
 */
export async function createLink(sid, profileId) {
  const l = await call('POST', `/api/sessions/${encodeURIComponent(sid)}/links`, { profile: Number(profileId) });
  if (!isId(l?.id) || typeof l.url !== 'string') throw new ApiError(0, 'malformed share link');
  return { id: String(l.id), url: l.url, profile: linkProfile(l.profile), passcode: typeof l.passcode === 'string' ? l.passcode : '' };
}

/** Resolves to the links made in the live session sid: [{id, profile, guests, revoked}]. */
export async function links(sid) {
  const data = await call('GET', `/api/sessions/${encodeURIComponent(sid)}/links`);
  if (!Array.isArray(data)) throw new ApiError(0, 'malformed link list');
  return data.map((l) => {
    if (!isId(l?.id)) throw new ApiError(0, 'malformed share link');
    return {
      id: String(l.id),
      profile: linkProfile(l.profile),
      guests: Number.isSafeInteger(l.guests) && l.guests > 0 ? l.guests : 0,
      revoked: typeof l.revokedAt === 'string' && l.revokedAt !== '',
      used: typeof l.usedAt === 'string' && l.usedAt !== '',
      protected: l.protected === true,
    };
  });
}

/** Revokes a share link; the guests on it are disconnected. */
export async function revokeLink(id) {
  await call('DELETE', `/api/links/${encodeURIComponent(id)}`);
}

/**
 * Checks a share key (and, if given, its passcode); resolves to {session, connection: {id,
 * name}, readOnly, passcode} — passcode: joining needs one. An invalid, expired, used or
 * revoked key rejects with status 404; a wrong passcode with 403 (field passcode).
 */
/**
 * Looks up share key key (with its passcode, if given) at origin ('' for the page's own: a
 * cluster's other nodes answer too).
 */
export async function share(key, passcode = '', origin = '') {
  const s = await call('POST', `${origin}/api/share`, passcode ? { key, passcode } : { key });
  if (typeof s?.session !== 'string' || !isId(s.connection?.id)) throw new ApiError(0, 'malformed share reply');
  return {
    session: s.session,
    connection: { id: String(s.connection.id), name: typeof s.connection.name === 'string' ? s.connection.name : '' },
    readOnly: s.readOnly === true,
    passcode: s.passcode === true,
  };
}

/**
 * Resolves to why share key key no longer works (the server's message for 404), or '' while it
 * works or nobody says: asked of the page's own origin, then, if that cannot be reached, of
 * the node of wsURL, where the socket reconnects next (a cluster's node, when the page's own
 * has failed).
 */
export async function linkGone(key, wsURL = '') {
  let other = '';
  try {
    const u = new URL(wsURL);
    other = `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
  } catch {
    // no other node to ask
  }
  for (const origin of other && other !== location.origin ? ['', other] : ['']) {
    try {
      await share(key, '', origin);
      return '';
    } catch (err) {
      if (err.status === 404) return err.message;
      if (err.status !== 0) return '';
    }
  }
  return '';
}

// ---- Active Sessions and History (admins) ----

/** Most sessions one History page may ask for. */
export const MAX_HISTORY_LIMIT = 500;

// Returns the Date of an RFC 3339 time, or null for null, absent or unparsable.
function time(v) {
  if (typeof v !== 'string' || v === '') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function str(v) {
  return typeof v === 'string' ? v : '';
}

// A connection given as {id, name} or by its name alone.
function connectionOf(c) {
  if (typeof c === 'string') return { id: '', name: c };
  return { id: isId(c?.id) ? String(c.id) : '', name: str(c?.name) };
}

/**
 * Returns the live sessions of a GET /api/sessions reply:
 * [{id, connection: {id, name}, owner, startedAt (Date or null), participants}], each
 * participant {name, role, readOnly, connections}. Throws ApiError when malformed.
 */
export function parseLiveSessions(data) {
  if (!Array.isArray(data)) throw new ApiError(0, 'malformed session list');
  return data.map((s) => {
    if (typeof s?.id !== 'string' || s.id === '') throw new ApiError(0, 'malformed live session');
    let participants;
    try {
      participants = parseIdentities(s.participants ?? [], 'participants');
    } catch (err) {
      throw new ApiError(0, `malformed live session: ${err.message}`);
    }
    return { id: s.id, connection: connectionOf(s.connection), owner: str(s.owner), startedAt: time(s.startedAt), participants };
  });
}

/** Resolves to the live sessions (admins), as parseLiveSessions returns them. */
export async function liveSessions() {
  return parseLiveSessions(await call('GET', '/api/sessions'));
}

/** Ends the live session sid as an administrator; everyone on it is disconnected. */
export async function killSession(sid) {
  await call('DELETE', `/api/sessions/${encodeURIComponent(sid)}`);
}

function historyParticipant(p) {
  if (typeof p?.name !== 'string') throw new ApiError(0, 'malformed history participant');
  const profile = typeof p.profile === 'string' ? p.profile : str(p.profile?.name);
  return {
    name: p.name,
    role: str(p.role),
    readOnly: p.readOnly === true,
    profile,
    address: str(p.address),
    joinedAt: time(p.joinedAt),
    leftAt: time(p.leftAt),
  };
}

/**
 * Returns a page of a GET /api/history reply: {total, sessions: [{id, connection: {id,
 * name}, owner, startedAt, endedAt, endReason, recording (its id, '' for none), participants}]}, times as Dates (endedAt and
 * a participant's leftAt null while live), each participant {name, role, readOnly, profile
 * ('' for none), address, joinedAt, leftAt}. Throws ApiError when malformed.
 */
export function parseHistory(data) {
  if (!Array.isArray(data?.sessions) || !Number.isSafeInteger(data.total) || data.total < 0) throw new ApiError(0, 'malformed history');
  return {
    total: data.total,
    sessions: data.sessions.map((s) => {
      if (!isId(s?.id) || !Array.isArray(s.participants ?? [])) throw new ApiError(0, 'malformed history session');
      return {
        id: String(s.id),
        connection: connectionOf(s.connection),
        owner: str(s.owner),
        startedAt: time(s.startedAt),
        endedAt: time(s.endedAt),
        endReason: str(s.endReason),
        recording: isId(s.recording) ? String(s.recording) : '',
        participants: (s.participants ?? []).map(historyParticipant),
      };
    }),
  };
}

/** Resolves to limit (1..MAX_HISTORY_LIMIT) sessions of the history from offset, newest first. */
export async function history(offset, limit) {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ApiError(0, `history offset ${offset}`);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) throw new ApiError(0, `history limit ${limit}`);
  return parseHistory(await call('GET', `/api/history?offset=${offset}&limit=${limit}`));
}

// ---- users (admins) ----

function userAccount(u) {
  if (!isId(u?.id) || typeof u.username !== 'string') throw new ApiError(0, 'malformed user');
  return {
    id: String(u.id),
    username: u.username,
    admin: u.admin === true,
    connections: Array.isArray(u.connections) ? u.connections.filter(isId).map(String) : [],
    password: typeof u.password === 'string' ? u.password : '',
  };
}

/** Resolves to every account: [{id, username, admin, connections: [connection id]}]. */
export async function users() {
  const data = await call('GET', '/api/users');
  if (!Array.isArray(data)) throw new ApiError(0, 'malformed user list');
  return data.map(userAccount);
}

/** Creates an account; an empty password makes the server generate one, in {password}. */
export async function createUser(username, password, admin) {
  return userAccount(await call('POST', '/api/users', { username, password, admin }));
}

/** Makes an account an administrator or not. */
export async function setAdmin(id, admin) {
  return userAccount(await call('PATCH', `/api/users/${encodeURIComponent(id)}`, { admin }));
}

/** Gives an account a generated password; resolves to it (shown once). */
export async function resetPassword(id) {
  const data = await call('POST', `/api/users/${encodeURIComponent(id)}/password`, {});
  if (typeof data?.password !== 'string') throw new ApiError(0, 'malformed password reply');
  return data.password;
}

/** Deletes an account, disconnecting it. */
export async function deleteUser(id) {
  await call('DELETE', `/api/users/${encodeURIComponent(id)}`);
}

/** Grants (or, with granted false, revokes) an account's use of a connection. */
export async function setGrant(userId, connectionId, granted) {
  await call(granted ? 'PUT' : 'DELETE', `/api/users/${encodeURIComponent(userId)}/connections/${encodeURIComponent(connectionId)}`);
}

/** Changes the caller's own password; a wrong current one rejects with status 403. */
export async function changePassword(current, password) {
  await call('POST', '/api/me/password', { current, password });
}
