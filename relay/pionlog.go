package relay

import (
	"fmt"

	"github.com/pion/logging"
	"github.com/rs/zerolog"
)

// pionLogger routes pion's logs into zerolog. pion's info and below are chatty per packet, so
// they are demoted to zerolog's debug and trace levels.
type pionLogger struct{ log zerolog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f pionLogger) NewLogger(scope string) logging.LeveledLogger {
	return pionScope{f.log.With().Str("component", "pion").Str("scope", scope).Logger()}
}

type pionScope struct{ log zerolog.Logger }

func (s pionScope) Trace(msg string) { s.log.Trace().Msg(msg) }
func (s pionScope) Tracef(format string, args ...any) {
	s.log.Trace().Msg(fmt.Sprintf(format, args...))
}
func (s pionScope) Debug(msg string) { s.log.Trace().Msg(msg) }
func (s pionScope) Debugf(format string, args ...any) {
	s.log.Trace().Msg(fmt.Sprintf(format, args...))
}
func (s pionScope) Info(msg string)                  { s.log.Debug().Msg(msg) }
func (s pionScope) Infof(format string, args ...any) { s.log.Debug().Msg(fmt.Sprintf(format, args...)) }
func (s pionScope) Warn(msg string)                  { s.log.Warn().Msg(msg) }
func (s pionScope) Warnf(format string, args ...any) { s.log.Warn().Msg(fmt.Sprintf(format, args...)) }
func (s pionScope) Error(msg string)                 { s.log.Error().Msg(msg) }
func (s pionScope) Errorf(format string, args ...any) {
	s.log.Error().Msg(fmt.Sprintf(format, args...))
}
