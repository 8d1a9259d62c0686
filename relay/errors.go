package relay

import "errors"

// Errors callers branch on; others are wrapped around them with %w.
var (
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("relay: invalid config")
	// ErrReplaced reports that the signaling server closed the agent because another agent
	// of the same connection (same token) replaced it; Run returns it and does not reconnect.
	ErrReplaced = errors.New("relay: replaced by another agent of the same connection")
)
