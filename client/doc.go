// Package client is the Go peer of peerdesk: it logs in, joins a live session through the
// signaling server and talks to the host's relay agent over WebRTC data channels exactly as
// the browser does (docs/PROTOCOL.md). Tests, benchmarks and `peerdesk join` use it.
//
// It imports only the wire packages (relay/wire, signaling/proto), never the server or the
// agent.
package client
