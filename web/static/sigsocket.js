// The signaling WebSocket of a session (docs/PROTOCOL.md, section 2): it reconnects with
// backoff until the session ends or is closed, to the other nodes of a cluster in turn when
// its own does not answer. WebSocket, timers and randomness are injected, so that
// reconnecting can be tested without a browser.

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;

/** Returns the delay before reconnect attempt n (from 0): doubling, capped, ±20 % jitter. */
export function reconnectDelay(n, random = Math.random) {
  return Math.round(Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** n) * (0.8 + 0.4 * random()));
}

/**
 * SignalingSocket keeps a WebSocket to url open. handlers:
 *   onMessage(text)      a frame from the server
 *   onLost()             the socket closed; a reconnect is scheduled
 *   beforeReconnect(url) async; resolves to a reason to give up instead of reconnecting to
 *                        url (the next node's, in a cluster), or ''
 *   onGiveUp(reason)     beforeReconnect gave a reason: the socket stays closed
 * env (all optional): {WebSocket, setTimeout, clearTimeout, random}.
 */
export class SignalingSocket {
  constructor(url, handlers, env = {}) {
    this.url = url;
    this.handlers = handlers;
    this.WebSocket = env.WebSocket ?? globalThis.WebSocket;
    this.setTimeout = env.setTimeout ?? globalThis.setTimeout.bind(globalThis);
    this.clearTimeout = env.clearTimeout ?? globalThis.clearTimeout.bind(globalThis);
    this.random = env.random ?? Math.random;
    this.ws = null;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = false;
    this.urls = [url]; // this.url first, then the other nodes'
    this.opened = false; // the current socket was accepted
  }

  /**
   * Sets the origins of the cluster's nodes (the hello's nodes): a reconnect that fails moves
   * on to the next, with the same path.
   */
  setNodes(origins) {
    if (!Array.isArray(origins)) return;
    const here = new URL(this.url);
    const urls = [this.url];
    for (const o of origins) {
      let u;
      try {
        u = new URL(here.pathname + here.search, String(o).replace(/^http/, 'ws'));
      } catch {
        continue;
      }
      if ((u.protocol === 'ws:' || u.protocol === 'wss:') && u.host !== here.host) urls.push(u.href);
    }
    this.urls = urls;
  }

  /** Opens the WebSocket. */
  start() {
    const ws = new this.WebSocket(this.url);
    this.ws = ws;
    this.opened = false;
    ws.onmessage = (e) => {
      if (ws === this.ws) this.handlers.onMessage(e.data);
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (!this.opened && this.urls.length > 1) {
        this.url = this.urls[(this.urls.indexOf(this.url) + 1) % this.urls.length];
      }
      this.handlers.onLost?.();
      if (this.stopped) return; // onLost ended the session
      this.timer = this.setTimeout(() => this.reconnect(), reconnectDelay(this.attempt++, this.random));
    };
  }

  /** The server accepted the socket (its hello): the next loss reconnects quickly again. */
  accepted() {
    this.attempt = 0;
    this.opened = true;
  }

  /** Sends text if the socket is open. */
  send(text) {
    if (this.ws?.readyState === this.WebSocket.OPEN) this.ws.send(text);
  }

  /** Stops reconnecting; close also closes the socket. */
  stop() {
    this.stopped = true;
    this.clearTimeout(this.timer);
    this.timer = 0;
  }

  /** Closes the socket for good. Safe to call twice. */
  close() {
    this.stop();
    const ws = this.ws;
    this.ws = null;
    ws?.close();
  }

  // A refused upgrade (an invalid share link, say) looks like any lost connection to the
  // page: beforeReconnect tells the two apart.
  async reconnect() {
    this.timer = 0;
    let reason = '';
    try {
      reason = (await this.handlers.beforeReconnect?.(this.url)) ?? '';
    } catch (err) {
      console.warn('peerdesk: reconnect check:', err.message);
    }
    if (this.stopped || this.ws) return;
    if (reason) {
      this.stop();
      this.handlers.onGiveUp?.(reason);
    } else {
      this.start();
    }
  }
}
