// Package pionlog routes pion's logs into zerolog. It is a leaf shared by the relay agent and
// the Go client, which may not import each other.
package pionlog

import (
	"github.com/pion/logging"
	"github.com/rs/zerolog"
)

// Factory is a pion logging.LoggerFactory writing to Log, with the pion scope (ice, sctp, …)
// in the field "pion".
type Factory struct {
	Log zerolog.Logger
}

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return leveled{log: f.Log.With().Str("pion", scope).Logger()}
}

// leveled is a logging.LeveledLogger writing to zerolog. pion narrates every state change at
// info and much more at debug, so those go one level down.
type leveled struct {
	log zerolog.Logger
}

// Trace and the methods below implement logging.LeveledLogger.
func (l leveled) Trace(msg string)                  { l.log.Trace().Msg(msg) }
func (l leveled) Tracef(format string, args ...any) { l.log.Trace().Msgf(format, args...) }
func (l leveled) Debug(msg string)                  { l.log.Trace().Msg(msg) }
func (l leveled) Debugf(format string, args ...any) { l.log.Trace().Msgf(format, args...) }
func (l leveled) Info(msg string)                   { l.log.Debug().Msg(msg) }
func (l leveled) Infof(format string, args ...any)  { l.log.Debug().Msgf(format, args...) }
func (l leveled) Warn(msg string)                   { l.log.Warn().Msg(msg) }
func (l leveled) Warnf(format string, args ...any)  { l.log.Warn().Msgf(format, args...) }
func (l leveled) Error(msg string)                  { l.log.Error().Msg(msg) }
func (l leveled) Errorf(format string, args ...any) { l.log.Error().Msgf(format, args...) }
