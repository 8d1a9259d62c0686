// One participant's live session: the signaling WebSocket (docs/PROTOCOL.md, section 2)
// and the WebRTC peer connection to the host's relay agent with its three data channels
// (section 3).

import { parsePresence } from './presence.js';
import { CHANNELS, Consumption, candidateSignal, decodeControl, decodeSignal, offerSignal } from './protocol.js';

/** Connection states a Session reports, with the text the page shows for each. */
export const STATE_TEXT = Object.freeze({
  connecting: 'Connecting…',
  connected: 'Connected',
  'host-unavailable': 'Host desktop unavailable',
  ended: 'Session ended',
  disconnected: 'Disconnected — retrying…',
});

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const REOFFER_MS = 2000; // wait before offering again after a peer connection failed
const MAX_PENDING_CANDIDATES = 100;
// ICE restart (docs/PROTOCOL.md, section 2): after ICE has been disconnected this long, or at
// once when it failed, the page re-offers on the same peer connection with fresh ICE
// credentials, again every RESTART_INTERVAL_MS until it is connected, at most MAX_RESTARTS
// times (about 30 s) before it makes a new peer connection.
const DISCONNECTED_GRACE_MS = 2000;
const RESTART_INTERVAL_MS = 3000;
const MAX_RESTARTS = 10;

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

const decoder = new TextDecoder('utf-8', { fatal: true });

// Returns the text of UTF-8 bytes, or the bytes themselves when they are not UTF-8 (the
// control decoder then refuses them).
function utf8(buffer) {
  try {
    return decoder.decode(buffer);
  } catch {
    return buffer;
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

/** Returns the session of a hello ({id, connection: {id, name}}), or null if it has none. */
export function helloSession(m) {
  const s = m?.session;
  if (typeof s?.id !== 'string' || s.id === '') return null;
  const c = s.connection;
  const id = typeof c?.id === 'number' || typeof c?.id === 'string' ? String(c.id) : '';
  return { id: s.id, connection: { id, name: typeof c?.name === 'string' ? c.name : '' } };
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
    this.path = target.share !== undefined
      ? `/ws/peer?share=${encodeURIComponent(target.share)}`
      : `/ws/peer?connection=${encodeURIComponent(target.connection)}`;
    this.display = display;
    this.handlers = handlers;
    this.ws = null;
    this.pc = null;
    this.channels = {};
    this.remoteSet = false;
    this.pendingCandidates = [];
    this.iceServers = [];
    this.identity = null;
    this.readOnly = false;
    this.session = null;
    this.hostAvailable = false;
    // The relay's control message desktop: the host's desktop (its VNC server, say) is there.
    this.desktop = { available: true, message: '' };
    this.ended = false;
    this.closed = false;
    this.attempt = 0;
    this.reconnectTimer = 0;
    this.reofferTimer = 0;
    this.restartTimer = 0;
    this.restarts = 0; // ICE restarts since the connection was last up
    this.relayOnly = false;
    this.state = '';
  }

  /** Opens the signaling WebSocket. */
  start() {
    this.relayOnly = relayOnlyRequested();
    this.setState('connecting');
    this.connect();
  }

  /** Closes everything; the session does not reconnect. Safe to call twice. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = 0;
    this.closePeer();
    this.ws?.close();
    this.ws = null;
  }

  /** Reports whether input may be sent: the input channel is open and not read-only. */
  canSend() {
    return !this.readOnly && this.channels.input?.readyState === 'open';
  }

  /** Reports whether a peer connection to the relay is up or being set up. */
  hasPeer() {
    return this.pc !== null;
  }

  /** Sends one encoded input message, if canSend(). */
  send(bytes) {
    if (this.canSend()) this.channels.input.send(bytes);
  }

  setState(state, message = '') {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState?.(state, message);
  }

  notice(text) {
    console.warn('peerdesk:', text);
    this.handlers.onNotice?.(text);
  }

  info() {
    this.handlers.onInfo?.({ identity: this.identity, readOnly: this.readOnly, session: this.session });
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}${this.path}`);
    this.ws = ws;
    ws.onmessage = (e) => {
      if (ws === this.ws) this.onSignal(e.data);
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.hostAvailable = false;
      this.closePeer();
      if (this.closed || this.ended) return;
      this.setState('disconnected');
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt) * (0.8 + 0.4 * Math.random());
      this.attempt++;
      this.reconnectTimer = setTimeout(() => this.reconnect(), delay);
    };
  }

  // A refused upgrade (an invalid share link, say) looks like any lost connection to the
  // page: beforeReconnect tells the two apart.
  async reconnect() {
    let reason = '';
    try {
      reason = (await this.handlers.beforeReconnect?.()) ?? '';
    } catch (err) {
      console.warn('peerdesk: reconnect check:', err.message);
    }
    if (this.closed || this.ended || this.ws) return;
    if (reason) this.end(reason);
    else this.connect();
  }

  end(message) {
    this.ended = true;
    this.hostAvailable = false;
    this.closePeer();
    this.setState('ended', message);
  }

  signal(text) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
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
        this.attempt = 0;
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
      case 'state':
        this.onHostState(m.state, typeof m.message === 'string' ? m.message : '');
        break;
      case 'answer':
        this.onAnswer(m.sdp);
        break;
      case 'candidate':
        this.onCandidate(m.candidate);
        break;
      case 'error':
        // The relay dropped our peer connection (its stream to us failed): offer a new one.
        if (m.code === 'renegotiate' && this.pc) this.startPeer();
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
    try {
      this.pc?.setConfiguration(this.rtcConfig());
    } catch (err) {
      console.warn('peerdesk: fresh ICE servers refused:', err.message);
    }
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
      default:
        console.warn('peerdesk: unknown host state', state);
    }
  }

  async startPeer() {
    this.closePeer();
    this.setState('connecting');
    const pc = new RTCPeerConnection(this.rtcConfig());
    this.pc = pc;
    this.desktop = { available: true, message: '' }; // until the relay says otherwise
    for (const { label, id } of CHANNELS) {
      const dc = pc.createDataChannel(label, { negotiated: true, id, ordered: true });
      dc.binaryType = 'arraybuffer';
      this.channels[label] = dc;
    }
    const { control, display } = this.channels;
    // The relay holds what it sends to what the page applied (docs/PROTOCOL.md, 3.2).
    const consumption = new Consumption();
    const applied = (bytes) => {
      const report = consumption.applied(bytes);
      if (report && pc === this.pc && display.readyState === 'open') display.send(report);
    };
    display.onmessage = (e) => {
      if (pc !== this.pc) return;
      if (!(e.data instanceof ArrayBuffer)) console.warn('peerdesk: text message on the display channel skipped');
      else if (!this.display.push(e.data, applied)) this.resync(pc);
    };
    display.onopen = () => {
      if (pc === this.pc) this.showDesktop();
    };
    display.onclose = () => this.peerLost(pc);
    // The protocol sends control messages as text; take binary UTF-8 JSON too.
    control.onmessage = (e) => {
      if (pc === this.pc) this.onControl(e.data instanceof ArrayBuffer ? utf8(e.data) : e.data);
    };
    pc.onicecandidate = (e) => {
      if (pc === this.pc && e.candidate) this.signal(candidateSignal(e.candidate.toJSON()));
    };
    pc.oniceconnectionstatechange = () => this.watchIce(pc);
    await this.offer(pc, {});
  }

  // Makes an offer on pc (options: {iceRestart: true} for a restart) and sends it; the
  // relay's candidates wait for its answer.
  async offer(pc, options) {
    this.remoteSet = false;
    this.pendingCandidates = [];
    try {
      const offer = await pc.createOffer(options);
      if (pc !== this.pc) return;
      await pc.setLocalDescription(offer);
      if (pc !== this.pc) return;
      this.signal(offerSignal(pc.localDescription.sdp));
    } catch (err) {
      if (pc === this.pc) this.notice(`cannot make an offer: ${err.message}`);
    }
  }

  // The path to the relay broke or came back: restart ICE once it has been disconnected for
  // DISCONNECTED_GRACE_MS, or at once when it failed; the data channels, and so the session,
  // survive the outage.
  watchIce(pc) {
    if (pc !== this.pc) return;
    switch (pc.iceConnectionState) {
      case 'connected':
      case 'completed':
        clearTimeout(this.restartTimer);
        this.restartTimer = 0;
        if (this.restarts > 0) console.info('peerdesk: ICE restart succeeded');
        this.restarts = 0;
        if (this.channels.display?.readyState === 'open') this.showDesktop();
        break;
      case 'disconnected':
        if (!this.restartTimer) this.restartTimer = setTimeout(() => this.restartIce(pc), DISCONNECTED_GRACE_MS);
        break;
      case 'failed':
        if (this.restarts === 0) {
          clearTimeout(this.restartTimer);
          this.restartIce(pc);
        }
        break;
    }
  }

  // Offers an ICE restart on pc, then again every RESTART_INTERVAL_MS while it is not
  // connected; after MAX_RESTARTS it gives the peer connection up for a new one.
  restartIce(pc) {
    this.restartTimer = 0;
    if (pc !== this.pc || pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') return;
    if (this.restarts >= MAX_RESTARTS) {
      this.peerLost(pc);
      return;
    }
    this.restarts++;
    this.restartTimer = setTimeout(() => this.restartIce(pc), RESTART_INTERVAL_MS);
    this.setState('connecting');
    if (pc.signalingState !== 'stable') return; // the previous offer has no answer yet
    console.info(`peerdesk: restarting ICE (attempt ${this.restarts})`);
    this.offer(pc, { iceRestart: true });
  }

  // The page applies display messages slower than they come, and the data channel cannot slow
  // the relay down: drop the backlog and offer a new peer connection, whose stream starts with
  // a full frame (docs/PROTOCOL.md, 3.2), as the relay does for a peer that falls behind.
  resync(pc) {
    if (pc !== this.pc) return;
    console.warn('peerdesk: display backlog full; resynchronising');
    this.display.dropBacklog();
    this.startPeer();
  }

  // The current peer connection failed or the relay closed its channels: offer again
  // after a pause while the host is still there.
  peerLost(pc) {
    if (pc !== this.pc) return;
    this.closePeer();
    if (!this.hostAvailable) return;
    this.setState('connecting');
    this.reofferTimer = setTimeout(() => {
      if (this.hostAvailable && !this.pc) this.startPeer();
    }, REOFFER_MS);
  }

  closePeer() {
    clearTimeout(this.reofferTimer);
    clearTimeout(this.restartTimer);
    this.restartTimer = 0;
    this.restarts = 0;
    const pc = this.pc;
    if (!pc) return;
    this.pc = null;
    this.channels = {};
    this.pendingCandidates = [];
    pc.close();
  }

  async onAnswer(sdp) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== 'have-local-offer') {
      console.warn('peerdesk: answer without a pending offer skipped');
      return;
    }
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (err) {
      if (pc === this.pc) this.notice(`bad answer: ${err.message}`);
      return;
    }
    if (pc !== this.pc) return;
    this.remoteSet = true;
    const queued = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of queued) this.addCandidate(pc, c);
  }

  onCandidate(init) {
    const pc = this.pc;
    if (!pc) return;
    if (!this.remoteSet) {
      if (this.pendingCandidates.length < MAX_PENDING_CANDIDATES) this.pendingCandidates.push(init);
      return;
    }
    this.addCandidate(pc, init);
  }

  addCandidate(pc, init) {
    pc.addIceCandidate(init).catch((err) => console.warn('peerdesk: remote candidate refused:', err.message));
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
        this.info();
        break;
      case 'presence':
        this.onPresence(m);
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
    if (this.channels.display?.readyState === 'open') this.showDesktop();
  }

  // The peer connection's display channel is open: the state is the desktop's.
  showDesktop() {
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
