package vnc

import "errors"

// Errors callers branch on; others are wrapped around them with %w.
var (
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("vnc: invalid config")
	// ErrAuth reports that the server refused the password, or wants one and none is set.
	// Run gives up on it: retrying would not help.
	ErrAuth = errors.New("vnc: authentication failed")
	// ErrUnsupported reports a server speaking no RFB version or security type this client
	// knows. Run gives up on it.
	ErrUnsupported = errors.New("vnc: unsupported server")
	// ErrUnavailable reports input while no VNC server is connected.
	ErrUnavailable = errors.New("vnc: desktop unavailable")
	// ErrBadInput reports an input event of an unknown type or outside the desktop.
	ErrBadInput = errors.New("vnc: bad input")
	// ErrRunning reports a second concurrent call of Run.
	ErrRunning = errors.New("vnc: client already running")
)

// errProtocol reports a server message that is malformed or out of bounds; the connection
// is dropped and Run reconnects.
var errProtocol = errors.New("vnc: protocol error")
