package signaling

import (
	"encoding/csv"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// msgKilled is what the participants of a session an administrator ended are told.
const msgKilled = "The session was ended by an administrator"

// liveSessionReply is a live session in the Active Sessions list.
type liveSessionReply struct {
	ID           string          `json:"id"`
	Connection   shareConnection `json:"connection"`
	Owner        string          `json:"owner"`
	StartedAt    time.Time       `json:"startedAt"`
	Participants []proto.Group   `json:"participants"`
}

// historyReply is a page of the history.
type historyReply struct {
	Total    int                   `json:"total"`
	Sessions []historySessionReply `json:"sessions"`
}

type historySessionReply struct {
	ID           string                    `json:"id"`
	Connection   shareConnection           `json:"connection"`
	Owner        string                    `json:"owner"` // "" once the user is deleted
	StartedAt    time.Time                 `json:"startedAt"`
	EndedAt      *time.Time                `json:"endedAt"`             // null while live
	EndReason    string                    `json:"endReason"`           // "" while live
	Recording    int64                     `json:"recording,omitempty"` // its recording's id, if it has one
	Participants []historyParticipantReply `json:"participants"`
}

type historyParticipantReply struct {
	Name     string     `json:"name"`
	Role     string     `json:"role"`
	ReadOnly bool       `json:"readOnly"`
	Profile  *string    `json:"profile"` // null if not through a share link
	Address  string     `json:"address"`
	JoinedAt time.Time  `json:"joinedAt"`
	LeftAt   *time.Time `json:"leftAt"` // null while on
}

// handleLiveSessions lists every live session with its participants grouped by name.
func (s *Server) handleLiveSessions(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireAdmin(w, r); !ok {
		return
	}
	reply := s.liveSessions(r.Context())
	if reply == nil {
		reply = []liveSessionReply{}
	}
	writeJSON(w, http.StatusOK, reply)
}

// handleKillSession ends a live session: every participant is disconnected with msgKilled
// and its links die.
func (s *Server) handleKillSession(w http.ResponseWriter, r *http.Request) {
	admin, ok := s.requireAdmin(w, r)
	if !ok {
		return
	}
	err := s.EndSession(r.Context(), SessionID(r.PathValue("sid")), "killed by admin "+admin.Username, msgKilled)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		writeError(w, http.StatusNotFound, "no such live session")
	case err != nil:
		s.internalError(w, "kill live session", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleHistory answers a page of the history (?offset=&limit=), newest sessions first.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireAdmin(w, r); !ok {
		return
	}
	var q store.HistoryQuery
	for _, f := range []struct {
		name string
		dst  *int
	}{{"offset", &q.Offset}, {"limit", &q.Limit}} {
		v := r.URL.Query().Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			writeFieldError(w, http.StatusBadRequest, f.name, f.name+": must be an integer")
			return
		}
		*f.dst = n
	}
	sessions, total, err := s.store.History(r.Context(), q)
	if err != nil {
		s.writeStoreError(w, "history", "", err)
		return
	}
	reply := historyReply{Total: total, Sessions: make([]historySessionReply, 0, len(sessions))}
	for _, h := range sessions {
		reply.Sessions = append(reply.Sessions, newHistorySessionReply(h))
	}
	writeJSON(w, http.StatusOK, reply)
}

func newHistorySessionReply(h store.HistorySession) historySessionReply {
	reply := historySessionReply{
		ID:           h.ID,
		Connection:   shareConnection{ID: int64(h.ConnectionID), Name: h.ConnectionName},
		Owner:        h.OwnerName,
		StartedAt:    h.StartedAt,
		EndedAt:      optionalTime(h.EndedAt),
		EndReason:    h.EndReason,
		Recording:    int64(h.Recording),
		Participants: make([]historyParticipantReply, 0, len(h.Participants)),
	}
	for _, p := range h.Participants {
		var profile *string
		if p.LinkID != 0 {
			profile = &p.ProfileName
		}
		reply.Participants = append(reply.Participants, historyParticipantReply{
			Name:     p.Name,
			Role:     p.Role,
			ReadOnly: p.ReadOnly,
			Profile:  profile,
			Address:  p.Address,
			JoinedAt: p.JoinedAt,
			LeftAt:   optionalTime(p.LeftAt),
		})
	}
	return reply
}

// historyCSVHeader names the columns of the CSV export.
var historyCSVHeader = []string{"session", "connection", "owner", "session_started", "session_ended",
	"name", "role", "read_only", "profile", "address", "joined", "left"}

// handleHistoryCSV exports the whole history as CSV: one row per participant (a session
// without any gets one row with empty participant cells), newest sessions first. It streams
// (a flush every csvFlushRows rows), holding one page of sessions at a time; a store failing
// midway leaves the file cut short, and is logged.
func (s *Server) handleHistoryCSV(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireAdmin(w, r); !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="peerdesk-history.csv"`)
	h.Set("Cache-Control", "no-store")
	// The rows go out as they are read, a batch at a time: the export never holds the whole
	// history in memory. An error past the first byte can only cut the file short.
	rc := http.NewResponseController(w)
	cw := csv.NewWriter(w)
	rows := 0
	write := func(row []string) error {
		if err := cw.Write(csvSafe(row)); err != nil {
			return err
		}
		if rows++; rows%csvFlushRows == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			_ = rc.Flush()
		}
		return nil
	}
	err := write(slices.Clone(historyCSVHeader))
	if err == nil {
		err = s.store.EachHistorySession(r.Context(), func(h store.HistorySession) error {
			session := []string{h.ID, h.ConnectionName, h.OwnerName, csvTime(h.StartedAt), csvTime(h.EndedAt)}
			if len(h.Participants) == 0 {
				return write(append(session, make([]string, len(historyCSVHeader)-len(session))...))
			}
			for _, p := range h.Participants {
				row := append(slices.Clone(session), p.Name, p.Role, strconv.FormatBool(p.ReadOnly), p.ProfileName,
					p.Address, csvTime(p.JoinedAt), csvTime(p.LeftAt))
				if err := write(row); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err != nil && r.Context().Err() == nil {
		s.log.Error().Err(err).Int("rows", rows).Msg("export history: cut short")
	}
}

// csvFlushRows is how many CSV rows the export buffers before sending them on.
const csvFlushRows = 256

// csvTime formats t as RFC 3339 in UTC; "" for the zero time.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSafe defuses formula injection in place and returns row: a cell a spreadsheet would
// take for a formula (starting with = + - @, or a tab or carriage return) gets a leading '.
func csvSafe(row []string) []string {
	for i, cell := range row {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			row[i] = "'" + cell
		}
	}
	return row
}
