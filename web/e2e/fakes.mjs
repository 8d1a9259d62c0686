// Test doubles for the page's injected environment: timers driven by hand, a WebSocket and an
// RTCPeerConnection that record what the page does and let a test play the other side.

/** Returns timers that run only when advance(ms) is called, in due order. */
export function fakeTimers() {
  let now = 0;
  let next = 1;
  const pending = new Map(); // id → {at, fn}
  return {
    setTimeout(fn, ms = 0) {
      const id = next++;
      pending.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(id) {
      pending.delete(id);
    },
    /** Moves the clock on by ms, running every timer that falls due, in order. */
    advance(ms) {
      const end = now + ms;
      for (;;) {
        let first = null;
        for (const [id, t] of pending) if (t.at <= end && (!first || t.at < first[1].at)) first = [id, t];
        if (!first) break;
        pending.delete(first[0]);
        now = first[1].at;
        first[1].fn();
      }
      now = end;
    },
    /** The delays of the pending timers, from now. */
    delays() {
      return [...pending.values()].map((t) => t.at - now);
    },
  };
}

/** Lets pending promise callbacks run. */
export function flush() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** FakeWebSocket records the sockets made; a test opens, messages and closes them. */
export class FakeWebSocket {
  static OPEN = 1;
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWebSocket.made.push(this);
  }

  send(text) {
    this.sent.push(text);
  }

  close() {
    this.readyState = 3;
  }

  /** The server side: the socket opens. */
  open() {
    this.readyState = FakeWebSocket.OPEN;
  }

  /** The server side: a frame. */
  message(text) {
    this.onmessage?.({ data: text });
  }

  /** The server side, or the network: the socket closes. */
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
}

/** FakeChannel is a data channel that records what is sent on it. */
class FakeChannel {
  constructor(label) {
    this.label = label;
    this.readyState = 'connecting';
    this.sent = [];
  }

  send(b) {
    this.sent.push(b);
  }

  open() {
    this.readyState = 'open';
    this.onopen?.();
  }
}

/** FakePeerConnection records offers, descriptions and candidates; a test drives its ICE state. */
export class FakePeerConnection {
  static made = [];

  constructor(config) {
    this.config = config;
    this.channels = {};
    this.offers = []; // the options of each createOffer
    this.candidates = [];
    this.signalingState = 'stable';
    this.iceConnectionState = 'new';
    this.localDescription = null;
    this.closed = false;
    FakePeerConnection.made.push(this);
  }

  createDataChannel(label) {
    const dc = new FakeChannel(label);
    this.channels[label] = dc;
    return dc;
  }

  async createOffer(options) {
    this.offers.push(options);
    return { type: 'offer', sdp: `v=0 offer ${this.offers.length}` };
  }

  async setLocalDescription(d) {
    this.localDescription = d;
    this.signalingState = 'have-local-offer';
  }

  async setRemoteDescription() {
    this.signalingState = 'stable';
  }

  async addIceCandidate(c) {
    this.candidates.push(c);
  }

  setConfiguration(config) {
    this.config = config;
  }

  close() {
    this.closed = true;
  }

  /** The ICE agent changes state. */
  ice(state) {
    this.iceConnectionState = state;
    this.oniceconnectionstatechange?.();
  }
}
