// Fetch wrappers for the signaling server's HTTP API (docs/PROTOCOL.md, section 1).
// The login session lives in the HttpOnly cookie peerdesk_session, which the browser
// sends by itself; these calls only need same-origin credentials.

/** ApiError is a failed API call: status is the HTTP status (0 when the request failed). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
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
    throw new ApiError(res.status, message);
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

/** Resolves to the connections the user may open: [{id, name, online}], ids as strings. */
export async function connections() {
  const data = await call('GET', '/api/connections');
  if (!Array.isArray(data)) throw new ApiError(0, 'malformed connection list');
  return data
    .filter((c) => (typeof c?.id === 'number' || typeof c?.id === 'string') && typeof c.name === 'string')
    .map((c) => ({ id: String(c.id), name: c.name, online: c.online === true }));
}
