package signaling_test

import (
	"fmt"
	"net/http"
	"testing"

	"peerdesk/signaling/proto"
)

func TestProfileAPI(t *testing.T) {
	e := newShareEnv(t)
	profiles := fmt.Sprintf("/api/connections/%d/profiles", e.desk.ID)
	body := `{"name":"View only","readOnly":true,"linkLifetime":3600,"maxGuests":5}`

	// Only admins write; permitted users read.
	e.api("POST", profiles, e.alice, body, http.StatusForbidden, nil)
	e.api("POST", profiles, nil, body, http.StatusUnauthorized, nil)
	var p profileJSON
	e.api("POST", profiles, e.root, body, http.StatusCreated, &p)
	if p.ID == 0 || p.Connection != int64(e.desk.ID) || p.Name != "View only" || !p.ReadOnly || p.LinkLifetime != 3600 || p.MaxGuests != 5 || p.CreatedAt.IsZero() {
		t.Fatalf("created %+v", p)
	}
	path := fmt.Sprintf("/api/profiles/%d", p.ID)
	for _, c := range []struct {
		name   string
		cookie *http.Cookie
		status int
	}{{"admin", e.root, 200}, {"permitted", e.alice, 200}, {"not permitted", e.carol, 403}, {"anonymous", nil, 401}} {
		var list []profileJSON
		e.api("GET", profiles, c.cookie, "", c.status, nil)
		if c.status == 200 {
			e.api("GET", profiles, c.cookie, "", 200, &list)
			if len(list) != 1 || list[0] != p {
				t.Fatalf("%s: list = %+v", c.name, list)
			}
			var got profileJSON
			e.api("GET", path, c.cookie, "", 200, &got)
			if got != p {
				t.Fatalf("%s: get = %+v", c.name, got)
			}
		} else {
			e.api("GET", path, c.cookie, "", c.status, nil)
		}
	}
	e.api("GET", "/api/connections/999/profiles", e.root, "", http.StatusNotFound, nil)
	e.api("GET", "/api/profiles/999", e.root, "", http.StatusNotFound, nil)
	e.api("GET", "/api/profiles/x", e.root, "", http.StatusNotFound, nil)

	// Update, clone, conflicts.
	e.api("PUT", path, e.alice, `{"name":"x"}`, http.StatusForbidden, nil)
	var up profileJSON
	e.api("PUT", path, e.root, `{"name":"Watch","readOnly":true,"linkLifetime":0,"maxGuests":0}`, http.StatusOK, &up)
	if up.ID != p.ID || up.Name != "Watch" || up.LinkLifetime != 0 || up.MaxGuests != 0 || !up.ReadOnly {
		t.Fatalf("updated %+v", up)
	}
	e.api("POST", path+"/clone", e.alice, `{"name":"Copy"}`, http.StatusForbidden, nil)
	var clone profileJSON
	e.api("POST", path+"/clone", e.root, `{"name":"Watch (copy)"}`, http.StatusCreated, &clone)
	if clone.ID == p.ID || clone.Name != "Watch (copy)" || !clone.ReadOnly || clone.Connection != int64(e.desk.ID) {
		t.Fatalf("clone %+v", clone)
	}
	var conflict errorJSON
	e.api("POST", path+"/clone", e.root, `{"name":"watch (COPY)"}`, http.StatusConflict, &conflict)
	if conflict.Field != "name" {
		t.Fatalf("conflict %+v", conflict)
	}
	e.api("PUT", fmt.Sprintf("/api/profiles/%d", clone.ID), e.root, `{"name":"Watch"}`, http.StatusConflict, nil)

	// Validation names the field.
	for _, tt := range []struct{ body, field string }{
		{`{"name":""}`, "name"},
		{`{"name":" padded "}`, "name"},
		{`{"name":"a","linkLifetime":30}`, "linkLifetime"},
		{`{"name":"a","linkLifetime":2592001}`, "linkLifetime"},
		{`{"name":"a","linkLifetime":-1}`, "linkLifetime"},
		{`{"name":"a","linkLifetime":"1h"}`, "linkLifetime"},
		{`{"name":"a","maxGuests":1001}`, "maxGuests"},
		{`{"name":"a","maxGuests":-1}`, "maxGuests"},
		{`{"name":"a","readOnly":"yes"}`, "readOnly"},
	} {
		var reply errorJSON
		e.api("POST", profiles, e.root, tt.body, http.StatusBadRequest, &reply)
		if reply.Field != tt.field || reply.Error == "" {
			t.Errorf("%s: %+v, want field %q", tt.body, reply, tt.field)
		}
	}
	e.api("POST", profiles, e.root, `not json`, http.StatusBadRequest, nil)
	e.api("PATCH", path, e.root, `{}`, http.StatusMethodNotAllowed, nil)

	// Delete.
	e.api("DELETE", path, e.alice, "", http.StatusForbidden, nil)
	e.api("DELETE", path, e.root, "", http.StatusNoContent, nil)
	e.api("DELETE", path, e.root, "", http.StatusNotFound, nil)
	var list []profileJSON
	e.api("GET", profiles, e.alice, "", http.StatusOK, &list)
	if len(list) != 1 || list[0] != clone {
		t.Fatalf("list after delete = %+v", list)
	}
}

func TestLinkAPIPermissions(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Full", false, 0, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember})
	links := "/api/sessions/" + sid + "/links"
	body := fmt.Sprintf(`{"profile":%d}`, p.ID)

	bobLink, key := e.link(e.bob, sid, p.ID) // a member may share
	e.link(e.root, sid, p.ID)                // an admin may, without being on the session
	e.join(key, e.carol, proto.Identity{Name: "carol", Role: proto.RoleMember}, false)
	for _, c := range []struct {
		name    string
		cookie  *http.Cookie
		status  int
		message string
	}{
		{"anonymous guest", nil, 403, "guests cannot create share links"},
		{"user on the session through a link", e.carol, 403, "guests cannot create share links"},
	} {
		var reply errorJSON
		e.api("POST", links, c.cookie, body, c.status, &reply)
		if reply.Error != c.message {
			t.Errorf("%s: %q, want %q", c.name, reply.Error, c.message)
		}
		e.api("GET", links, c.cookie, "", c.status, nil)
	}
	// A permitted user not on the session is no participant.
	if err := e.st.Grant(t.Context(), e.user("dave", false).ID, e.desk.ID); err != nil {
		t.Fatalf("Grant: %v", err)
	}
	dave := e.login("dave")
	var reply errorJSON
	e.api("POST", links, dave, body, http.StatusForbidden, &reply)
	if reply.Error != "not a participant of this session" {
		t.Fatalf("dave: %q", reply.Error)
	}
	e.api("POST", "/api/sessions/nope/links", e.alice, body, http.StatusNotFound, nil)

	// The profile must be one of the session's connection.
	other, _ := e.connection("other")
	var op profileJSON
	e.api("POST", fmt.Sprintf("/api/connections/%d/profiles", other.ID), e.root, `{"name":"Other"}`, http.StatusCreated, &op)
	for _, b := range []string{fmt.Sprintf(`{"profile":%d}`, op.ID), `{"profile":999}`, `{}`} {
		var r errorJSON
		e.api("POST", links, e.alice, b, http.StatusBadRequest, &r)
		if r.Field != "profile" {
			t.Errorf("%s: %+v, want field profile", b, r)
		}
	}

	// Revoke: the creator, the owner or an admin; not another member nor a guest.
	aliceLink, _ := e.link(e.alice, sid, p.ID)
	e.api("DELETE", fmt.Sprintf("/api/links/%d", aliceLink.ID), e.bob, "", http.StatusForbidden, nil)
	e.api("DELETE", fmt.Sprintf("/api/links/%d", aliceLink.ID), e.carol, "", http.StatusForbidden, nil)
	e.api("DELETE", fmt.Sprintf("/api/links/%d", aliceLink.ID), e.root, "", http.StatusNoContent, nil)
	e.api("DELETE", fmt.Sprintf("/api/links/%d", bobLink.ID), e.alice, "", http.StatusNoContent, nil) // the owner
	thirdLink, _ := e.link(e.bob, sid, p.ID)
	e.api("DELETE", fmt.Sprintf("/api/links/%d", thirdLink.ID), e.bob, "", http.StatusNoContent, nil) // the creator
	e.api("DELETE", "/api/links/999", e.root, "", http.StatusNotFound, nil)
}

func TestConnectionAPI(t *testing.T) {
	e := newShareEnv(t)
	e.api("POST", "/api/connections", e.alice, `{"name":"lab"}`, http.StatusForbidden, nil)
	var created struct {
		ID         int64  `json:"id"`
		Name       string `json:"name"`
		AgentToken string `json:"agentToken"`
	}
	e.api("POST", "/api/connections", e.root, `{"name":"lab"}`, http.StatusCreated, &created)
	if created.ID == 0 || created.Name != "lab" || created.AgentToken == "" {
		t.Fatalf("created %+v", created)
	}
	agent, resp, err := e.dialAgent(created.AgentToken)
	if err != nil {
		t.Fatalf("agent with the new token: %v %s", err, status(resp))
	}
	if m := expect(t, agent, proto.TypeHello); m.Connection == nil || m.Connection.ID != created.ID || m.Connection.Name != "lab" {
		t.Fatalf("agent hello %+v", m.Connection)
	}
	for _, tt := range []struct {
		body   string
		status int
	}{{`{"name":""}`, 400}, {`{"name":"LAB"}`, 409}} {
		var reply errorJSON
		e.api("POST", "/api/connections", e.root, tt.body, tt.status, &reply)
		if reply.Field != "name" {
			t.Errorf("%s: %+v, want field name", tt.body, reply)
		}
	}

	// Deleting desk ends its live session and drops its agent.
	alice, _ := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	e.api("DELETE", fmt.Sprintf("/api/connections/%d", e.desk.ID), e.alice, "", http.StatusForbidden, nil)
	e.api("DELETE", fmt.Sprintf("/api/connections/%d", e.desk.ID), e.root, "", http.StatusNoContent, nil)
	expectEnded(t, alice, "The session has ended")
	if code := expectClosed(t, e.agent); code != 1000 {
		t.Fatalf("agent close code %d", code)
	}
	e.api("DELETE", fmt.Sprintf("/api/connections/%d", e.desk.ID), e.root, "", http.StatusNotFound, nil)
	if e.srv.Online(e.desk.ID) {
		t.Fatal("deleted connection still online")
	}
}
