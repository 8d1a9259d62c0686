package client

import "errors"

// Errors callers branch on; others are wrapped with context.
var (
	// ErrLogin means the server refused the credentials or the session cookie (HTTP 401).
	ErrLogin = errors.New("client: login refused")
	// ErrForbidden means the user may not use the connection (HTTP 403).
	ErrForbidden = errors.New("client: forbidden")
	// ErrHTTP means the server answered with an unexpected HTTP status.
	ErrHTTP = errors.New("client: unexpected HTTP response")
	// ErrEnded means the server ended the live session (state "ended").
	ErrEnded = errors.New("client: session ended")
	// ErrClosed means Close was called.
	ErrClosed = errors.New("client: session closed")
	// ErrProtocol means the server broke docs/PROTOCOL.md (for example, no hello first).
	ErrProtocol = errors.New("client: protocol violation")
	// ErrNotConnected means no peer connection is open to the host right now.
	ErrNotConnected = errors.New("client: not connected to the host")
	// ErrInvalidArgument means an argument cannot be sent as given (bad URL, cookie or input value).
	ErrInvalidArgument = errors.New("client: invalid argument")
)

// errSignalingStuck ends a session whose signaling send queue is full: the WebSocket writer
// is stuck, and the messages that no longer fit would be lost.
var errSignalingStuck = errors.New("client: signaling connection stuck: send queue full")
