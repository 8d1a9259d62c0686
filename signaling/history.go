package signaling

import (
	"context"
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/store"
)

// historyStore is the part of the Store that keeps the session history.
type historyStore interface {
	RecordJoin(ctx context.Context, p store.ParticipantRecord) (store.ParticipantRecordID, error)
	RecordLeave(ctx context.Context, id store.ParticipantRecordID, at time.Time) error
	EndOpenParticipants(ctx context.Context, at time.Time) (int, error)
	History(ctx context.Context, q store.HistoryQuery) ([]store.HistorySession, int, error)
	EachHistorySession(ctx context.Context, fn func(store.HistorySession) error) error
}

// recordJoin writes to the history that p joined from address addr (recorded only if it is
// an IP address) and returns the row's id, 0 if it could not be written. A failing history
// is logged, not fatal to the participant.
func (s *Server) recordJoin(ctx context.Context, p *peer, addr string, log zerolog.Logger) store.ParticipantRecordID {
	if _, err := netip.ParseAddr(addr); err != nil {
		addr = ""
	}
	id, err := s.store.RecordJoin(ctx, store.ParticipantRecord{
		SessionID:   string(p.sess.id),
		Peer:        string(p.id),
		Name:        p.identity.Name,
		UserID:      p.user,
		Role:        p.identity.Role,
		ReadOnly:    p.readOnly,
		LinkID:      p.link,
		ProfileName: p.profile,
		Address:     addr,
		JoinedAt:    s.now(),
	})
	if err != nil {
		log.Error().Err(err).Msg("record the join in the history")
		return 0
	}
	return id
}

// recordLeave writes to the history that participant id (0: never recorded) left now.
func (s *Server) recordLeave(id store.ParticipantRecordID, log zerolog.Logger) {
	if id == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.store.RecordLeave(ctx, id, s.now()); err != nil {
		log.Error().Err(err).Msg("record the leave in the history")
	}
}
