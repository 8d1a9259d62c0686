package relay

import "errors"

// ErrConfig reports an invalid configuration; errors of NewAgent wrap it with %w.
var ErrConfig = errors.New("relay: invalid config")

// Reasons the agent's signaling connection ended, for the reconnect loop.
var (
	// errReplaced: the server closed the agent because another agent of the same connection
	// (same token) replaced it.
	errReplaced = errors.New("replaced by another agent of the same connection")
	// errTokenRefused: the server refused the agent token.
	errTokenRefused = errors.New("agent token refused")
)
