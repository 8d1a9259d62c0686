// Package pionlog routes pion's logs into zerolog. It is a leaf shared by the relay agent and
// the Go client, which may not import each other.
package pionlog

import (
	"fmt"
	"strings"

	"github.com/pion/logging"
	"github.com/rs/zerolog"

	"peerdesk/internal/logsafe"
)

// Factory is a pion logging.LoggerFactory writing to Log, with the pion scope (ice, sctp, …)
// in the field "pion".
type Factory struct {
	Log zerolog.Logger
}

// NewLogger implements logging.LoggerFactory. pion makes a score of loggers for every peer
// connection, so the scope goes into each message instead of a logger context of its own,
// for which zerolog would allocate half a KiB.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return leveled{log: f.Log, scope: scope}
}

// leveled is a logging.LeveledLogger writing to zerolog. pion narrates every state change at
// info and much more at debug, so those go one level down, and so do the warnings it gives at
// every routine set-up and tear-down (routine). Every message is made safe first: pion quotes
// what peers sent (candidates) and, at debug, ICE passwords.
type leveled struct {
	log   zerolog.Logger
	scope string
}

// routine lists the starts of pion warnings that every connection's set-up or tear-down gives:
// logged at debug, so that a warning means something.
var routine = []string{
	"Failed to ping without candidate pairs",
	"failed to write packets on netConn: dtls fatal: conn is closed",
	"mux: no endpoint for packet starting with",
	"Failed to close DTLS conn",
	"Failed to accept data channel",
}

func (l leveled) emit(e *zerolog.Event, msg string) {
	e.Str("pion", l.scope).Msg(logsafe.Escape(logsafe.Redact(msg)))
}

// Trace and the methods below implement logging.LeveledLogger.
func (l leveled) Trace(msg string)                  { l.emit(l.log.Trace(), msg) }
func (l leveled) Tracef(format string, args ...any) { l.Trace(fmt.Sprintf(format, args...)) }
func (l leveled) Debug(msg string)                  { l.emit(l.log.Trace(), msg) }
func (l leveled) Debugf(format string, args ...any) { l.Debug(fmt.Sprintf(format, args...)) }
func (l leveled) Info(msg string)                   { l.emit(l.log.Debug(), msg) }
func (l leveled) Infof(format string, args ...any)  { l.Info(fmt.Sprintf(format, args...)) }
func (l leveled) Warn(msg string) {
	for _, r := range routine {
		if strings.Contains(msg, r) {
			l.emit(l.log.Debug(), msg)
			return
		}
	}
	l.emit(l.log.Warn(), msg)
}
func (l leveled) Warnf(format string, args ...any)  { l.Warn(fmt.Sprintf(format, args...)) }
func (l leveled) Error(msg string)                  { l.emit(l.log.Error(), msg) }
func (l leveled) Errorf(format string, args ...any) { l.Error(fmt.Sprintf(format, args...)) }
