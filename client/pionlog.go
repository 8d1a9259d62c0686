package client

import (
	"github.com/pion/logging"
	"github.com/rs/zerolog"
)

// pionLoggerFactory routes pion's logs into zerolog, one sub-logger per pion scope.
type pionLoggerFactory struct {
	log zerolog.Logger
}

// NewLogger implements logging.LoggerFactory.
func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With().Str("pion", scope).Logger()}
}

// pionLogger is a logging.LeveledLogger writing to zerolog. pion narrates every state change
// at info and much more at debug, so those go one level down.
type pionLogger struct {
	log zerolog.Logger
}

// Trace and the methods below implement logging.LeveledLogger.
func (l pionLogger) Trace(msg string)                  { l.log.Trace().Msg(msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.log.Trace().Msgf(format, args...) }
func (l pionLogger) Debug(msg string)                  { l.log.Trace().Msg(msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.log.Trace().Msgf(format, args...) }
func (l pionLogger) Info(msg string)                   { l.log.Debug().Msg(msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.log.Debug().Msgf(format, args...) }
func (l pionLogger) Warn(msg string)                   { l.log.Warn().Msg(msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.log.Warn().Msgf(format, args...) }
func (l pionLogger) Error(msg string)                  { l.log.Error().Msg(msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.log.Error().Msgf(format, args...) }
