package signaling_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
	"peerdesk/store"
)

type historyJSON struct {
	Total    int `json:"total"`
	Sessions []struct {
		ID           string           `json:"id"`
		Connection   proto.Connection `json:"connection"`
		Owner        string           `json:"owner"`
		StartedAt    time.Time        `json:"startedAt"`
		EndedAt      *time.Time       `json:"endedAt"`
		EndReason    string           `json:"endReason"`
		Participants []participantJSON
	} `json:"sessions"`
}

type participantJSON struct {
	Name     string     `json:"name"`
	Role     string     `json:"role"`
	ReadOnly bool       `json:"readOnly"`
	Profile  *string    `json:"profile"`
	Address  string     `json:"address"`
	JoinedAt time.Time  `json:"joinedAt"`
	LeftAt   *time.Time `json:"leftAt"`
}

// brief is what a test compares of a history participant.
func (p participantJSON) brief() string {
	profile := "-"
	if p.Profile != nil {
		profile = *p.Profile
	}
	return fmt.Sprintf("%s %s ro=%t %s %s left=%t", p.Name, p.Role, p.ReadOnly, profile, p.Address, p.LeftAt != nil)
}

// history fetches /api/history?query as root.
func (e *shareEnv) history(query string) historyJSON {
	e.t.Helper()
	var h historyJSON
	e.api("GET", "/api/history?"+query, e.root, "", http.StatusOK, &h)
	return h
}

// briefs summarises the participants of the newest session.
func (h historyJSON) briefs(t *testing.T) []string {
	t.Helper()
	if len(h.Sessions) == 0 {
		t.Fatal("no session in the history")
	}
	var out []string
	for _, p := range h.Sessions[0].Participants {
		out = append(out, p.brief())
	}
	return out
}

func TestHistoryRecordsJoinsAndLeaves(t *testing.T) {
	e := newShareEnv(t)
	view := e.profile("View", true, 0, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	bob, _ := e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember})
	_, key := e.link(e.alice, sid, view.ID)
	guest := e.join(key, nil, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, true)
	e.join(key, e.carol, proto.Identity{Name: "carol", Role: proto.RoleMember}, true)

	// Every join is written by the time its hello arrives.
	want := []string{
		"alice owner ro=false - 127.0.0.1 left=false",
		"bob member ro=false - 127.0.0.1 left=false",
		"Anonymous guest ro=true View 127.0.0.1 left=false",
		"carol member ro=true View 127.0.0.1 left=false",
	}
	h := e.history("")
	if got := h.briefs(t); h.Total != 1 || h.Sessions[0].ID != sid || h.Sessions[0].Owner != "alice" ||
		h.Sessions[0].EndedAt != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("history = %+v\nparticipants %q\nwant %q", h, got, want)
	}

	// A leave is written before the agent hears of it.
	guest.Close()
	expectLeave(t, e.agent)
	bob.Close()
	expectLeave(t, e.agent)
	want[1] = strings.Replace(want[1], "left=false", "left=true", 1)
	want[2] = strings.Replace(want[2], "left=false", "left=true", 1)
	if got := e.history("").briefs(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("participants after two leaves %q\nwant %q", got, want)
	}
}

// TestHistorySurvivesAbruptStop: while a server still has its peers, a second store on the
// same file (as after a crash) already sees their joins; a server started on it ends them.
func TestHistorySurvivesAbruptStop(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peerdesk.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := &env{t: t, st: st}
	e.srv, err = signaling.New(signaling.Config{Store: st, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.srv.Close()
	e.ts = httptest.NewServer(e.srv.Handler())
	defer e.ts.Close()
	alice := e.user("alice", true)
	desk, _ := e.connection("desk", alice)
	cookie := e.login("alice")
	e.peer(cookie, desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostUnavailable)
	e.peer(cookie, desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostUnavailable)

	st2, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	open := func() int {
		page, _, err := st2.History(context.Background(), store.HistoryQuery{})
		if err != nil || len(page) != 1 || len(page[0].Participants) != 2 {
			t.Fatalf("history seen by a second store: %+v, %v", page, err)
		}
		n := 0
		for _, p := range page[0].Participants {
			if p.LeftAt.IsZero() {
				n++
			}
		}
		return n
	}
	if n := open(); n != 2 {
		t.Fatalf("%d open participants, want the 2 joins", n)
	}
	srv2, err := signaling.New(signaling.Config{Store: st2, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	if n := open(); n != 0 {
		t.Fatalf("%d open participants after the restart, want 0", n)
	}
}

func TestHistoryPagingAPI(t *testing.T) {
	e := newShareEnv(t)
	ctx := context.Background()
	alice, err := e.st.UserBySessionToken(ctx, e.alice.Value)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := e.st.StartLiveSession(ctx, fmt.Sprintf("s%d", i), e.desk.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.add(time.Second)
	}
	var got []string
	for offset := 0; offset < 6; offset += 2 {
		h := e.history(fmt.Sprintf("offset=%d&limit=2", offset))
		if h.Total != 5 || len(h.Sessions) > 2 {
			t.Fatalf("page at %d: total %d, %d sessions", offset, h.Total, len(h.Sessions))
		}
		for _, s := range h.Sessions {
			got = append(got, s.ID)
			if s.Owner != "alice" || s.Connection != (proto.Connection{ID: int64(e.desk.ID), Name: "desk"}) || s.Participants == nil {
				t.Fatalf("session %+v", s)
			}
		}
	}
	if want := []string{"s4", "s3", "s2", "s1", "s0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("paged sessions %v, want %v", got, want)
	}
	if h := e.history("offset=99"); h.Total != 5 || h.Sessions == nil || len(h.Sessions) != 0 {
		t.Fatalf("past the end: %+v, want total 5 and []", h)
	}
	for query, field := range map[string]string{
		"limit=0x": "limit", "limit=501": "limit", "limit=-1": "limit", "offset=-1": "offset", "offset=1.5": "offset",
	} {
		var reply errorJSON
		e.api("GET", "/api/history?"+query, e.root, "", http.StatusBadRequest, &reply)
		if reply.Field != field {
			t.Errorf("%s: error %+v, want field %s", query, reply, field)
		}
	}
	if h := e.history("limit=500"); len(h.Sessions) != 5 {
		t.Fatalf("limit=500: %d sessions", len(h.Sessions))
	}
}

func TestHistoryCSV(t *testing.T) {
	e := newShareEnv(t)
	view := e.profile("=HYPERLINK(1)", true, 0, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	_, key := e.link(e.alice, sid, view.ID)
	guest := e.join(key, nil, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, true)
	guest.Close()
	expectLeave(t, e.agent)

	resp, body := e.do("GET", "/api/history.csv", e.root, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("GET /api/history.csv: %d %v", resp.StatusCode, resp.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatalf("parse %q: %v", body, err)
	}
	header := "session,connection,owner,session_started,session_ended,name,role,read_only,profile,address,joined,left"
	if len(rows) != 3 || strings.Join(rows[0], ",") != header {
		t.Fatalf("csv %q", rows)
	}
	alice, anon := rows[1], rows[2]
	wantSID := sid
	if strings.ContainsAny(sid[:1], "=+-@") { // a random id may start like a formula: defused
		wantSID = "'" + sid
	}
	if alice[0] != wantSID || alice[1] != "desk" || alice[2] != "alice" || alice[4] != "" || alice[5] != "alice" ||
		alice[6] != "owner" || alice[7] != "false" || alice[8] != "" || alice[9] != "127.0.0.1" || alice[11] != "" {
		t.Fatalf("alice row %q", alice)
	}
	if anon[5] != "Anonymous" || anon[6] != "guest" || anon[7] != "true" || anon[8] != "'=HYPERLINK(1)" || anon[11] == "" {
		t.Fatalf("guest row %q", anon)
	}
	for _, cell := range []string{alice[3], anon[10], anon[11]} {
		if ts, err := time.Parse(time.RFC3339, cell); err != nil || ts.Location() != time.UTC {
			t.Fatalf("time cell %q: %v", cell, err)
		}
	}
}

func TestLiveSessionsAndKill(t *testing.T) {
	e := newShareEnv(t)
	full := e.profile("Full", false, 0, 0)
	view := e.profile("View", true, 0, 0)
	owner := proto.Identity{Name: "alice", Role: proto.RoleOwner}
	anon := proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}
	a1, sid := e.open(e.alice, owner)
	a2, _ := e.open(e.alice, owner)
	b, _ := e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember})
	r, _ := e.open(e.root, proto.Identity{Name: "root", Role: proto.RoleMember}) // an admin joins as member
	_, fullKey := e.link(e.alice, sid, full.ID)
	_, viewKey := e.link(e.alice, sid, view.ID)
	g1 := e.join(fullKey, nil, anon, false)
	g2 := e.join(viewKey, nil, anon, true)

	var live []struct {
		ID           string           `json:"id"`
		Connection   proto.Connection `json:"connection"`
		Owner        string           `json:"owner"`
		StartedAt    time.Time        `json:"startedAt"`
		Participants []struct {
			Name        string `json:"name"`
			Role        string `json:"role"`
			ReadOnly    bool   `json:"readOnly"`
			Connections int    `json:"connections"`
		} `json:"participants"`
	}
	e.api("GET", "/api/sessions", e.root, "", http.StatusOK, &live)
	if len(live) != 1 || live[0].ID != sid || live[0].Owner != "alice" || live[0].StartedAt.IsZero() ||
		live[0].Connection != (proto.Connection{ID: int64(e.desk.ID), Name: "desk"}) {
		t.Fatalf("live sessions %+v", live)
	}
	got := fmt.Sprint(live[0].Participants)
	if want := "[{Anonymous guest false 2} {alice owner false 2} {bob member false 1} {root member false 1}]"; got != want {
		t.Fatalf("participants %s, want %s", got, want)
	}

	e.api("DELETE", "/api/sessions/"+sid, e.root, "", http.StatusNoContent, nil)
	for _, c := range []*websocket.Conn{a1, a2, b, r, g1, g2} {
		expectEnded(t, c, "The session was ended by an administrator")
	}
	e.expectInvalid(fullKey)
	e.api("DELETE", "/api/sessions/"+sid, e.root, "", http.StatusNotFound, nil)
	e.api("GET", "/api/sessions", e.root, "", http.StatusOK, &live)
	if len(live) != 0 {
		t.Fatalf("live sessions after the kill: %+v", live)
	}

	// Once the server has let every peer go, the history has all of them, gone.
	e.srv.Close()
	h := e.history("")
	if s := h.Sessions[0]; s.EndedAt == nil || s.EndReason != "killed by admin root" || len(s.Participants) != 6 {
		t.Fatalf("history session %+v", s)
	}
	for _, p := range h.Sessions[0].Participants {
		if p.LeftAt == nil || p.LeftAt.Before(p.JoinedAt) {
			t.Fatalf("participant %+v has not left", p)
		}
	}
}

func TestAdminEndpointsForbidden(t *testing.T) {
	e := newShareEnv(t)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/sessions"}, {"DELETE", "/api/sessions/" + sid}, {"GET", "/api/history"}, {"GET", "/api/history.csv"},
	} {
		e.api(req.method, req.path, e.alice, "", http.StatusForbidden, nil) // the session's owner
		e.api(req.method, req.path, nil, "", http.StatusUnauthorized, nil)
	}
	var live []json.RawMessage
	e.api("GET", "/api/sessions", e.root, "", http.StatusOK, &live)
	if len(live) != 1 {
		t.Fatalf("the session did not survive: %d live", len(live))
	}
}

// TestHistoryCSVStreams: a large export goes out as it is read (chunked, no Content-Length)
// and holds every row.
func TestHistoryCSVStreams(t *testing.T) {
	e := newShareEnv(t)
	ctx := context.Background()
	const rows = 1000
	if err := e.st.StartLiveSession(ctx, "bulk", e.desk.ID, 2); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if _, err := e.st.RecordJoin(ctx, store.ParticipantRecord{SessionID: "bulk", Peer: "p" + strconv.Itoa(i), Name: "Anonymous", Role: "guest", Address: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := e.do("GET", "/api/history.csv", e.root, "")
	if resp.StatusCode != http.StatusOK || resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("GET /api/history.csv: %d, length %d, encoding %v; want a chunked stream", resp.StatusCode, resp.ContentLength, resp.TransferEncoding)
	}
	got, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(got) != 1+rows {
		t.Fatalf("%d CSV rows (%v), want %d", len(got), err, 1+rows)
	}
}
