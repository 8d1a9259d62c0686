package signaling

import (
	"errors"
	"net/http"
	"os"

	"peerdesk/store"
)

// recordingRequest sets a connection's recording options.
type recordingRequest struct {
	Record     *bool `json:"record"`
	RecordKeys *bool `json:"recordKeys"`
}

// handleSetRecording sets whether a connection's sessions are recorded (PATCH
// /api/connections/{id}: record, recordKeys), from its next live session on.
func (s *Server) handleSetRecording(w http.ResponseWriter, r *http.Request) {
	id, ok := s.adminPathID(w, r)
	if !ok {
		return
	}
	var req recordingRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Record == nil {
		writeFieldError(w, http.StatusBadRequest, "record", "record: required")
		return
	}
	if *req.Record && !s.rec.records() {
		writeFieldError(w, http.StatusConflict, "record", "record: this server records no sessions (-no-recordings)")
		return
	}
	keys := *req.Record && req.RecordKeys != nil && *req.RecordKeys // no keys without recording
	conn, err := s.store.SetRecording(r.Context(), store.ConnectionID(id), *req.Record, keys)
	if err != nil {
		s.writeStoreError(w, "set recording", "recordKeys", err)
		return
	}
	s.log.Info().Int64("connection", id).Bool("record", conn.Record).Bool("keys", conn.RecordKeys).Msg("recording options set")
	writeJSON(w, http.StatusOK, connectionReplyOf(conn, s.online(r.Context())))
}

// connectionReplyOf is conn as the connection list shows it, online if it is in online.
func connectionReplyOf(c store.Connection, online map[int64]bool) connectionReply {
	return connectionReply{ID: int64(c.ID), Name: c.Name, Online: online[int64(c.ID)], Record: c.Record, RecordKeys: c.RecordKeys}
}

// adminRecording answers for an admin's request on recording {id}: the recording, or an
// error already written.
func (s *Server) adminRecording(w http.ResponseWriter, r *http.Request) (store.Recording, bool) {
	id, ok := s.adminPathID(w, r)
	if !ok {
		return store.Recording{}, false
	}
	if s.rec == nil {
		writeError(w, http.StatusNotFound, "this server keeps no recordings")
		return store.Recording{}, false
	}
	rec, err := s.store.Recording(r.Context(), store.RecordingID(id))
	if err != nil {
		s.writeStoreError(w, "look up recording", "", err)
		return store.Recording{}, false
	}
	return rec, true
}

// handleRecordingFile serves a recording's file to an admin (?download=1: as an attachment),
// with ranges: the player reads a live recording again from where it stopped.
func (s *Server) handleRecordingFile(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.adminRecording(w, r)
	if !ok {
		return
	}
	f, err := os.Open(s.rec.path(rec.File))
	if errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusNotFound, "the recording's file is gone")
		return
	}
	if err != nil {
		s.internalError(w, "open recording", err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.internalError(w, "open recording", err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.peerdesk.recording")
	w.Header().Set("Cache-Control", "no-store")
	if rec.EndedAt.IsZero() {
		w.Header().Set("X-Recording-Live", "1") // the player reads on from where it stopped
	}
	if r.URL.Query().Get("download") == "1" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+rec.File+`"`) // a plain name (store)
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// handleDeleteRecording removes a recording's file and index entry; a live session's recording
// cannot be deleted (end the session first).
func (s *Server) handleDeleteRecording(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.adminRecording(w, r)
	if !ok {
		return
	}
	if rec.EndedAt.IsZero() {
		writeError(w, http.StatusConflict, "the session is still recorded: end it first")
		return
	}
	if err := s.rec.remove(r.Context(), rec); err != nil {
		s.writeStoreError(w, "delete recording", "", err)
		return
	}
	s.log.Info().Int64("recording", int64(rec.ID)).Str("session", rec.Session).Msg("recording deleted")
	w.WriteHeader(http.StatusNoContent)
}
