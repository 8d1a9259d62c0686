// One participant's live session: its signaling socket (docs/PROTOCOL.md, section 2, kept
// open by SignalingSocket) and its peer connection to the host's relay agent (section 3, a
// PeerLink, replaced by a new one whenever it is lost), and what the two say of the session.

import { PeerLink } from './peerlink.js';
import { parsePresence } from './presence.js';
import { decodeControl, decodeSignal } from './messages.js';
import { SignalingSocket } from './sigsocket.js';
import { videoSupported } from './video.js';
import { parseWaiting } from './waiting.js';
import { parsePointers } from './pointers.js';
import { parseHandoff } from './handoff.js';

/** What a page that cannot decode video says once, when the desktop first shows. */
export const NO_VIDEO_NOTICE =
  'This page cannot decode video here (that needs https, or http on localhost): moving pictures come as images, using more bandwidth';

/** Connection states a Session reports, with the text the page shows for each. */
export const STATE_TEXT = Object.freeze({
  connecting: 'Connecting…',
  connected: 'Connected',
  'host-unavailable': 'Host desktop unavailable',
  ended: 'Session ended',
  waiting: 'Waiting for the host to let you in',
  disconnected: 'Disconnected — retrying…',
});

const REOFFER_MS = 2000; // wait before offering again after a peer connection was lost

/**
 * Reports whether the page URL asks for relayed ICE only (`?relay=1`): a diagnostics option
 * that makes the peer connection use TURN relay candidates only, as behind a restrictive
 * firewall. Anything else, or no URL, means all candidates.
 */
export function relayOnlyRequested(search = globalThis.location?.search ?? '') {
  try {
    return new URLSearchParams(search).get('relay') === '1';
  } catch {
    return false;
  }
}

function iceServers(list) {
  if (!Array.isArray(list)) return [];
  const out = [];
  for (const s of list) {
    const urls = typeof s?.urls === 'string' ? [s.urls] : s?.urls;
    if (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string')) continue;
    const server = { urls };
    if (typeof s.username === 'string') server.username = s.username;
    if (typeof s.credential === 'string') server.credential = s.credential;
    out.push(server);
  }
  return out;
}

/**
 * Returns the session of a hello ({id, connection: {id, name}, recording}), or null if it
 * has none.
 */
export function helloSession(m) {
  const s = m?.session;
  if (typeof s?.id !== 'string' || s.id === '') return null;
  const c = s.connection;
  const id = typeof c?.id === 'number' || typeof c?.id === 'string' ? String(c.id) : '';
  return { id: s.id, connection: { id, name: typeof c?.name === 'string' ? c.name : '' }, recording: s.recording === true };
}

/**
 * Session connects to a live session and keeps trying until it ends or is closed: the
 * WebSocket reconnects with backoff, and a new peer connection is offered whenever the host
 * is available. target is {connection: id} to open a connection, or {share: key} to join
 * through a share link. Display messages go to display.push(buffer), which returns false
 * when its backlog is full, and display.dropBacklog() forgets it. It is the sink of an
 * InputCapture (canSend, send). handlers, all optional:
 *   onState(state, message)               one of the keys of STATE_TEXT; for ended, the
 *                                         server's reason ('' if none), for
 *                                         host-unavailable the relay's ('' if none)
 *   onInfo({identity, readOnly, session}) from the server's hello and the relay's welcome;
 *                                         session as helloSession returns it
 *   onNotice(text)                        an error worth showing briefly
 *   onPresence(change)                    a roster change of the relay's presence message,
 *                                         as parsePresence returns it
 *   onClipboard(text)                     the host clipboard's new text ('' for empty);
 *                                         full-access participants only
 *   onLink(m)                             the relay's link message: whether this peer's
 *                                         link is the limit (docs/PROTOCOL.md, 3.1)
 *   beforeReconnect()                     async; resolves to a reason to end the session
 *                                         instead of reconnecting, or '' to go on
 */
export class Session {
  constructor(target, display, handlers = {}) {
    this.shareJoin = target.share !== undefined;
    this.path = target.share !== undefined
      ? `/ws/peer?${new URLSearchParams({ share: target.share, ...(target.name ? { name: target.name } : {}), ...(target.passcode ? { passcode: target.passcode } : {}) })}`
      : `/ws/peer?connection=${encodeURIComponent(target.connection)}`;
    this.display = display;
    this.handlers = handlers;
    this.socket = null;
    this.link = null; // the current PeerLink, null when there is none
    this.iceServers = [];
    this.identity = null;
    this.readOnly = false;
    this.session = null;
    this.hostAvailable = false;
    // The relay's control message desktop: the host's desktop (its VNC server, say) is there.
    this.desktop = { available: true, message: '' };
    this.ended = false;
    this.closed = false;
    this.reofferTimer = 0;
    this.relayOnly = false;
    this.state = '';
  }

  /** Opens the signaling WebSocket. */
  start() {
    this.relayOnly = relayOnlyRequested();
    this.setState('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.socket = new SignalingSocket(`${scheme}//${location.host}${this.path}`, {
      onMessage: (text) => this.onSignal(text),
      onLost: () => {
        this.hostAvailable = false;
        this.closePeer();
        if (!this.closed && !this.ended) this.setState('disconnected');
      },
      beforeReconnect: (url) => this.handlers.beforeReconnect?.(url),
      onGiveUp: (reason) => this.end(reason),
    });
    this.socket.start();
  }

  /** Closes everything; the session does not reconnect. Safe to call twice. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.closePeer();
    this.socket?.close();
  }

  /** Reports whether input may be sent: the input channel is open and not read-only. */
  canSend() {
    return !this.readOnly && this.link?.inputOpen() === true;
  }

  /** Reports whether a peer connection to the relay is up or being set up. */
  hasPeer() {
    return this.link !== null;
  }

  /** Sends one encoded input message, if canSend(). */
  send(bytes) {
    if (this.canSend()) this.link.sendInput(bytes);
  }

  /** Sends a hand-off request (docs/PROTOCOL.md, 3.1): type, and peer or on for the owner's. */
  handoff(type, fields = {}) {
    this.link?.sendControl(JSON.stringify({ type, ...fields }));
  }

  /** Sends a POINT_AT message, read-only or not: the relay only shows it to the others. */
  pointAt(bytes) {
    if (this.link?.inputOpen() === true) this.link.sendInput(bytes);
  }

  setState(state, message = '') {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState?.(state, message);
  }

  /** Lets a waiting guest in (allow) or turns it away; for owners and members. */
  admit(peer, allow) {
    this.socket?.send(JSON.stringify({ type: 'admit', peer, allow }));
  }

  notice(text) {
    console.warn('peerdesk:', text);
    this.handlers.onNotice?.(text);
  }

  info() {
    this.handlers.onInfo?.({ identity: this.identity, readOnly: this.readOnly, session: this.session });
  }

  end(message) {
    this.ended = true;
    this.socket?.stop();
    this.hostAvailable = false;
    this.closePeer();
    this.setState('ended', message);
  }

  onSignal(text) {
    let m;
    try {
      m = decodeSignal(text);
    } catch (err) {
      console.warn('peerdesk: signaling message skipped:', err.message);
      return;
    }
    switch (m.type) {
      case 'hello':
        this.socket.accepted();
        // A guest may go on through a cluster's other nodes; a user's login cookie is its
        // origin's (behind one load balancer, the page keeps its origin anyway).
        if (this.shareJoin) this.socket.setNodes(m.nodes);
        this.iceServers = iceServers(m.iceServers);
        this.identity = m.identity ?? null;
        this.readOnly = m.readOnly === true;
        this.session = helloSession(m);
        this.setState('connecting');
        this.info();
        break;
      case 'ice-servers':
        this.onIceServers(m.iceServers);
        break;
      case 'waiting':
        this.handlers.onWaiting?.(parseWaiting(m));
        break;
      case 'state':
        this.onHostState(m.state, typeof m.message === 'string' ? m.message : '');
        break;
      case 'answer':
        this.link?.answer(m.sdp);
        break;
      case 'candidate':
        this.link?.candidate(m.candidate);
        break;
      case 'draining': // the server shuts down: the session goes on until it does
        this.notice(m.message || 'The server is shutting down');
        break;
      case 'error':
        // The relay dropped our peer connection (its stream to us failed): offer a new one.
        if (m.code === 'renegotiate' && this.link) this.startPeer();
        else this.notice(`${m.message || m.code || 'error'}`);
        break;
      default:
        console.warn('peerdesk: unknown signaling message', m.type);
    }
  }

  // The RTCConfiguration of the peer connections: the server's ICE servers, and relay
  // candidates only when the page URL asked for it.
  rtcConfig() {
    return { iceServers: this.iceServers, iceTransportPolicy: this.relayOnly ? 'relay' : 'all' };
  }

  // Fresh TURN credentials: for the next peer connection, and for the current one's next
  // gathering (an ICE restart); allocations already made keep theirs.
  onIceServers(list) {
    if (!Array.isArray(list)) {
      console.warn('peerdesk: ice-servers message without a list skipped');
      return;
    }
    this.iceServers = iceServers(list);
    this.link?.setConfiguration(this.rtcConfig());
  }

  onHostState(state, message) {
    switch (state) {
      case 'host-available':
        this.hostAvailable = true;
        this.startPeer();
        break;
      case 'host-unavailable':
        this.hostAvailable = false;
        this.closePeer();
        this.setState('host-unavailable');
        break;
      case 'ended':
        this.end(message);
        break;
      case 'waiting': // in the waiting room: nothing to do but wait for hello or ended
        this.setState('waiting', message);
        break;
      default:
        console.warn('peerdesk: unknown host state', state);
    }
  }

  // Makes a new peer connection, replacing the current one.
  startPeer() {
    this.closePeer();
    this.setState('connecting');
    this.desktop = { available: true, message: '' }; // until the relay says otherwise
    const link = new PeerLink(this.rtcConfig(), {
      signal: (text) => this.socket?.send(text),
      display: this.display,
      onOpen: () => this.showDesktop(),
      onControl: (text) => this.onControl(text),
      onConnecting: () => this.setState('connecting'),
      onNotice: (text) => this.notice(text),
      onResync: () => {
        if (link === this.link) this.startPeer();
      },
      onLost: () => {
        if (link === this.link) this.peerLost();
      },
    });
    this.link = link;
    link.start();
  }

  // The current peer connection failed or the relay closed its channels: offer again
  // after a pause while the host is still there.
  peerLost() {
    this.closePeer();
    if (!this.hostAvailable) return;
    this.setState('connecting');
    this.reofferTimer = setTimeout(() => {
      if (this.hostAvailable && !this.link) this.startPeer();
    }, REOFFER_MS);
  }

  closePeer() {
    clearTimeout(this.reofferTimer);
    this.link?.close();
    this.link = null;
  }

  onControl(text) {
    let m;
    try {
      m = decodeControl(text);
    } catch (err) {
      console.warn('peerdesk: control message skipped:', err.message);
      return;
    }
    switch (m.type) {
      case 'welcome':
        if (m.identity && typeof m.identity === 'object') this.identity = m.identity;
        this.readOnly = this.readOnly || m.readOnly === true;
        this.peerId = typeof m.peer === 'string' ? m.peer : '';
        this.askControl = m.askControl === true;
        this.info();
        break;
      case 'control':
        this.handlers.onHandoff?.(parseHandoff(m), { peer: this.peerId, askControl: this.askControl });
        break;
      case 'presence':
        this.onPresence(m);
        break;
      case 'pointers':
        this.handlers.onPointers?.(parsePointers(m));
        break;
      case 'desktop':
        this.onDesktop(m);
        break;
      case 'clipboard':
        if (this.readOnly) break; // the relay sends none to read-only participants
        if (m.text !== undefined && typeof m.text !== 'string') console.warn('peerdesk: clipboard message without text skipped');
        else this.handlers.onClipboard?.(m.text ?? '');
        break;
      case 'link':
        this.handlers.onLink?.(m);
        break;
      case 'error':
        // Input while the desktop is away: the state already says so, once.
        if (m.code !== 'desktop-unavailable') this.notice(`${m.message || m.code || 'error'}`);
        break;
      default:
        console.warn('peerdesk: unknown control message', m.type);
    }
  }

  onDesktop(m) {
    if (m.state !== 'available' && m.state !== 'unavailable') {
      console.warn('peerdesk: desktop message skipped: state', m.state);
      return;
    }
    const message = typeof m.message === 'string' ? m.message : '';
    this.desktop = { available: m.state === 'available', message };
    if (this.link?.displayOpen()) this.showDesktop();
  }

  // The peer connection's display channel is open: the state is the desktop's.
  showDesktop() {
    if (!this.videoNoticed && !videoSupported()) {
      this.videoNoticed = true;
      this.notice(NO_VIDEO_NOTICE);
    }
    if (this.desktop.available) this.setState('connected');
    else this.setState('host-unavailable', this.desktop.message);
  }

  onPresence(m) {
    let change;
    try {
      change = parsePresence(m);
    } catch (err) {
      console.warn('peerdesk: presence message skipped:', err.message);
      return;
    }
    this.handlers.onPresence?.(change);
  }
}
