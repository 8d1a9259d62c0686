// JSON messages of docs/PROTOCOL.md: the control channel (section 3.1) and signaling
// (section 2). Pure functions with no DOM access, so node can test them; decoders throw a
// ProtocolError for anything malformed.

import { MAX_MESSAGE, MAX_SDP, ProtocolError } from './protocol.js';

const utf8 = new TextEncoder();

function decodeJSON(what, text) {
  if (typeof text !== 'string') throw new ProtocolError(`${what} message is not text`);
  if (text.length > MAX_MESSAGE) throw new ProtocolError(`${what} message of ${text.length} characters`);
  let m;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new ProtocolError(`${what} message is not JSON: ${err.message}`);
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new ProtocolError(`${what} message is not an object`);
  if (typeof m.type !== 'string' || m.type === '') throw new ProtocolError(`${what} message without type`);
  return m;
}

function encodeJSON(what, m) {
  if (typeof m?.type !== 'string' || m.type === '') throw new ProtocolError(`${what} message without type`);
  const text = JSON.stringify(m);
  const size = utf8.encode(text).length;
  if (size > MAX_MESSAGE) throw new ProtocolError(`${what} message of ${size} bytes`);
  return text;
}

/** Decodes a control-channel message (section 3.1): an object with a string type. */
export function decodeControl(text) {
  return decodeJSON('control', text);
}

/** Encodes a control-channel message. */
export function encodeControl(m) {
  return encodeJSON('control', m);
}

/**
 * Decodes a signaling frame (section 2) and checks the fields the peer relies on:
 * answers carry an SDP, candidates an object, hello a list of ICE servers.
 */
export function decodeSignal(text) {
  const m = decodeJSON('signaling', text);
  switch (m.type) {
    case 'offer':
    case 'answer':
      if (typeof m.sdp !== 'string' || m.sdp === '' || m.sdp.length > MAX_SDP) throw new ProtocolError(`${m.type} without a valid sdp`);
      break;
    case 'candidate':
      if (m.candidate === null || typeof m.candidate !== 'object') throw new ProtocolError('candidate message without candidate');
      break;
    case 'hello':
      if (m.iceServers !== undefined && !Array.isArray(m.iceServers)) throw new ProtocolError('hello with bad iceServers');
      break;
    case 'state':
      if (typeof m.state !== 'string') throw new ProtocolError('state message without state');
      break;
  }
  return m;
}

/** Encodes a signaling frame. */
export function encodeSignal(m) {
  return encodeJSON('signaling', m);
}

/** Returns the signaling frame carrying the peer's SDP offer. */
export function offerSignal(sdp) {
  return encodeSignal({ type: 'offer', sdp });
}

/** Returns the signaling frame carrying one trickled ICE candidate (an RTCIceCandidateInit). */
export function candidateSignal(init) {
  return encodeSignal({ type: 'candidate', candidate: init });
}
