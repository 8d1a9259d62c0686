// One peer connection to the host's relay agent with its three data channels
// (docs/PROTOCOL.md, section 3) and ICE restart (section 2). A PeerLink is one
// RTCPeerConnection: once closed, by its owner or because it was lost, it stays closed and none
// of its callbacks acts again, so a later link is never disturbed by an earlier one's events.
// RTCPeerConnection and timers are injected, so that ICE restart can be tested without a browser.

import { candidateSignal, offerSignal } from './messages.js';
import { CAP_COPY, CAP_VIDEO, CHANNELS, Consumption, encodeCaps } from './protocol.js';
import { videoDecodable } from './video.js';

const MAX_PENDING_CANDIDATES = 100;
// ICE restart: after ICE has been disconnected this long, or at once when it failed, the link
// re-offers on the same peer connection with fresh ICE credentials, again every
// RESTART_INTERVAL_MS until it is connected, at most MAX_RESTARTS times (about 30 s), and then
// gives the connection up.
export const DISCONNECTED_GRACE_MS = 2000;
export const RESTART_INTERVAL_MS = 3000;
export const MAX_RESTARTS = 10;

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

/**
 * PeerLink makes one peer connection with configuration config. handlers:
 *   signal(text)         send a signaling message (offer, candidate)
 *   display              the Display: push(buffer, onApplied), dropBacklog()
 *   onOpen()             the display channel is open (again, after an ICE restart)
 *   onControl(text)      a control message
 *   onConnecting()       an ICE restart is under way
 *   onLost()             the connection failed for good or the relay closed it: the link closed
 *   onResync()           the page fell too far behind: the link closed, its backlog dropped
 *   onNotice(text)       an error worth showing
 * env (all optional): {RTCPeerConnection, setTimeout, clearTimeout}.
 */
export class PeerLink {
  constructor(config, handlers, env = {}) {
    this.config = config;
    this.handlers = handlers;
    this.RTCPeerConnection = env.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    this.setTimeout = env.setTimeout ?? globalThis.setTimeout.bind(globalThis);
    this.clearTimeout = env.clearTimeout ?? globalThis.clearTimeout.bind(globalThis);
    this.pc = null;
    this.channels = {};
    this.remoteSet = false;
    this.pending = [];
    this.restartTimer = 0;
    this.restarts = 0; // ICE restarts since the connection was last up
    this.closed = false;
  }

  /** Creates the peer connection and its channels, and offers. */
  async start() {
    const pc = new this.RTCPeerConnection(this.config);
    this.pc = pc;
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
      if (report && !this.closed && display.readyState === 'open') display.send(report);
    };
    display.onmessage = (e) => {
      if (this.closed) return;
      if (!(e.data instanceof ArrayBuffer)) console.warn('peerdesk: text message on the display channel skipped');
      else if (!this.handlers.display.push(e.data, applied)) this.resync();
    };
    display.onopen = async () => {
      // Until CAPS arrives the relay sends tiles only; a page whose video does not decode
      // after all announces again, without VIDEO, and gets the video regions as tiles.
      const video = !this.handlers.display.videoOff && (await videoDecodable());
      if (this.closed || display.readyState !== 'open') return;
      display.send(encodeCaps(CAP_COPY | (video ? CAP_VIDEO : 0)));
      this.handlers.display.onVideoBroken = () => {
        if (!this.closed && display.readyState === 'open') display.send(encodeCaps(CAP_COPY));
      };
      this.handlers.onOpen();
    };
    display.onclose = () => this.lost();
    // The protocol sends control messages as text; take binary UTF-8 JSON too.
    control.onmessage = (e) => {
      if (!this.closed) this.handlers.onControl(e.data instanceof ArrayBuffer ? utf8(e.data) : e.data);
    };
    pc.onicecandidate = (e) => {
      if (!this.closed && e.candidate) this.handlers.signal(candidateSignal(e.candidate.toJSON()));
    };
    pc.oniceconnectionstatechange = () => this.watchIce();
    await this.offer({});
  }

  /** Closes the peer connection; the link does nothing more. Safe to call twice. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.clearTimeout(this.restartTimer);
    this.restartTimer = 0;
    this.pending = [];
    this.pc?.close();
  }

  /** Reports whether the display channel is open. */
  displayOpen() {
    return !this.closed && this.channels.display?.readyState === 'open';
  }

  /** Reports whether the input channel is open. */
  inputOpen() {
    return !this.closed && this.channels.input?.readyState === 'open';
  }

  /** Sends one control message (text), if the control channel is open. */
  sendControl(text) {
    if (!this.closed && this.channels.control?.readyState === 'open') this.channels.control.send(text);
  }

  /** Sends one input message, if the input channel is open. */
  sendInput(bytes) {
    if (this.inputOpen()) this.channels.input.send(bytes);
  }

  /** Applies fresh ICE servers: to the next gathering (an ICE restart). */
  setConfiguration(config) {
    this.config = config;
    if (this.closed || !this.pc) return;
    try {
      this.pc.setConfiguration(config);
    } catch (err) {
      console.warn('peerdesk: fresh ICE servers refused:', err.message);
    }
  }

  /** Applies the relay's answer, then the candidates that waited for it. */
  async answer(sdp) {
    const pc = this.pc;
    if (this.closed || !pc || pc.signalingState !== 'have-local-offer') {
      console.warn('peerdesk: answer without a pending offer skipped');
      return;
    }
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (err) {
      if (!this.closed) this.handlers.onNotice(`bad answer: ${err.message}`);
      return;
    }
    if (this.closed) return;
    this.remoteSet = true;
    const queued = this.pending;
    this.pending = [];
    for (const c of queued) this.addCandidate(c);
  }

  /** Adds a relay candidate, or keeps it until the answer is applied. */
  candidate(init) {
    if (this.closed || !this.pc) return;
    if (!this.remoteSet) {
      if (this.pending.length < MAX_PENDING_CANDIDATES) this.pending.push(init);
      return;
    }
    this.addCandidate(init);
  }

  addCandidate(init) {
    this.pc.addIceCandidate(init).catch((err) => console.warn('peerdesk: remote candidate refused:', err.message));
  }

  // Makes an offer (options: {iceRestart: true} for a restart) and sends it; the relay's
  // candidates wait for its answer.
  async offer(options) {
    const pc = this.pc;
    this.remoteSet = false;
    this.pending = [];
    try {
      const offer = await pc.createOffer(options);
      if (this.closed) return;
      await pc.setLocalDescription(offer);
      if (this.closed) return;
      this.handlers.signal(offerSignal(pc.localDescription.sdp));
    } catch (err) {
      if (!this.closed) this.handlers.onNotice(`cannot make an offer: ${err.message}`);
    }
  }

  // The path to the relay broke or came back: restart ICE once it has been disconnected for
  // DISCONNECTED_GRACE_MS, or at once when it failed; the data channels, and so the session,
  // survive the outage.
  watchIce() {
    if (this.closed) return;
    switch (this.pc.iceConnectionState) {
      case 'connected':
      case 'completed':
        this.clearTimeout(this.restartTimer);
        this.restartTimer = 0;
        if (this.restarts > 0) console.info('peerdesk: ICE restart succeeded');
        this.restarts = 0;
        if (this.displayOpen()) this.handlers.onOpen();
        break;
      case 'disconnected':
        if (!this.restartTimer) this.restartTimer = this.setTimeout(() => this.restartIce(), DISCONNECTED_GRACE_MS);
        break;
      case 'failed':
        if (this.restarts === 0) {
          this.clearTimeout(this.restartTimer);
          this.restartIce();
        }
        break;
    }
  }

  // Offers an ICE restart, then again every RESTART_INTERVAL_MS while ICE is not connected;
  // after MAX_RESTARTS the link is lost.
  restartIce() {
    this.restartTimer = 0;
    const state = this.pc.iceConnectionState;
    if (this.closed || state === 'connected' || state === 'completed') return;
    if (this.restarts >= MAX_RESTARTS) {
      this.lost();
      return;
    }
    this.restarts++;
    this.restartTimer = this.setTimeout(() => this.restartIce(), RESTART_INTERVAL_MS);
    this.handlers.onConnecting();
    if (this.pc.signalingState !== 'stable') return; // the previous offer has no answer yet
    console.info(`peerdesk: restarting ICE (attempt ${this.restarts})`);
    this.offer({ iceRestart: true });
  }

  // The page applies display messages slower than they come: drop the backlog and let the
  // owner offer a new peer connection, whose stream starts with a full frame (docs/PROTOCOL.md,
  // 3.2), as the relay does for a peer that falls behind.
  resync() {
    console.warn('peerdesk: display backlog full; resynchronising');
    this.handlers.display.dropBacklog();
    this.close();
    this.handlers.onResync();
  }

  lost() {
    if (this.closed) return;
    this.close();
    this.handlers.onLost();
  }
}
