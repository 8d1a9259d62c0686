package signaling_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
)

type accountJSON struct {
	ID          int64   `json:"id"`
	Username    string  `json:"username"`
	Admin       bool    `json:"admin"`
	Connections []int64 `json:"connections"`
	Password    string  `json:"password"`
}

// TestUsersAPI: an admin creates accounts (a generated password shown once, or a typed one),
// lists them with their grants, promotes, grants and revokes, resets a password and deletes;
// never their own account or admin rights, never the last admin; everything needs an admin.
func TestUsersAPI(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	root := e.user("root", true)
	bob := e.user("bob", false)
	desk, _ := e.connection("desk")
	admin, user := e.login("root"), e.login("bob")

	var ana accountJSON
	e.api("POST", "/api/users", admin, `{"username":"ana"}`, http.StatusCreated, &ana)
	if ana.Username != "ana" || ana.Admin || len(ana.Password) < 16 || ana.Connections == nil {
		t.Fatalf("created %+v", ana)
	}
	e.api("POST", "/api/login", nil, `{"username":"ana","password":"`+ana.Password+`"}`, http.StatusOK, nil)
	var typed accountJSON
	e.api("POST", "/api/users", admin, `{"username":"cy","password":"typed-password","admin":true}`, http.StatusCreated, &typed)
	if typed.Password != "" || !typed.Admin {
		t.Fatalf("created with a typed password: %+v", typed)
	}
	for body, field := range map[string]string{
		`{"username":"a b"}`:                      "username",
		`{"username":"dee","password":"short"}`:   "password",
		`{"username":"ANA"}`:                      "username", // taken, whatever the case
		`{"username":"dee","admin":"yes please"}`: "admin",
	} {
		resp, b := e.do("POST", "/api/users", admin, body)
		var reply struct{ Field string }
		decodeJSON(t, b, &reply)
		if resp.StatusCode/100 != 4 || reply.Field != field {
			t.Errorf("create %s: %d %s, want a 4xx naming %s", body, resp.StatusCode, b, field)
		}
	}

	e.api("PUT", fmt.Sprintf("/api/users/%d/connections/%d", ana.ID, desk.ID), admin, "", http.StatusNoContent, nil)
	e.api("PATCH", fmt.Sprintf("/api/users/%d", bob.ID), admin, `{"admin":true}`, http.StatusOK, nil)
	var list []accountJSON
	e.api("GET", "/api/users", admin, "", http.StatusOK, &list)
	names := []string{}
	for _, u := range list {
		names = append(names, u.Username)
		if u.Password != "" {
			t.Errorf("the list shows %s's password", u.Username)
		}
		if u.Username == "ana" && !slices.Equal(u.Connections, []int64{int64(desk.ID)}) {
			t.Errorf("ana's grants %v", u.Connections)
		}
		if u.Username == "bob" && !u.Admin {
			t.Error("bob was not promoted")
		}
	}
	if !slices.Equal(names, []string{"ana", "bob", "cy", "root"}) {
		t.Errorf("users %v", names)
	}

	// Never oneself; never the last admin.
	e.api("DELETE", fmt.Sprintf("/api/users/%d", root.ID), admin, "", http.StatusConflict, nil)
	e.api("PATCH", fmt.Sprintf("/api/users/%d", root.ID), admin, `{"admin":false}`, http.StatusConflict, nil)
	e.api("PATCH", fmt.Sprintf("/api/users/%d", typed.ID), admin, `{"admin":false}`, http.StatusOK, nil)
	e.api("PATCH", fmt.Sprintf("/api/users/%d", bob.ID), admin, `{"admin":false}`, http.StatusOK, nil)
	e.api("PATCH", fmt.Sprintf("/api/users/%d", bob.ID), admin, `{}`, http.StatusBadRequest, nil)
	e.api("DELETE", "/api/users/999", admin, "", http.StatusNotFound, nil)

	// Non-admins get 403; nobody logged in 401.
	for _, r := range [][2]string{{"GET", "/api/users"}, {"POST", "/api/users"}, {"DELETE", fmt.Sprintf("/api/users/%d", ana.ID)},
		{"POST", fmt.Sprintf("/api/users/%d/password", ana.ID)}, {"PUT", fmt.Sprintf("/api/users/%d/connections/%d", bob.ID, desk.ID)}} {
		e.api(r[0], r[1], user, `{}`, http.StatusForbidden, nil)
		e.api(r[0], r[1], nil, `{}`, http.StatusUnauthorized, nil)
	}

	// A reset password is shown once and ends the user's logins.
	var reset struct{ Password string }
	e.api("POST", fmt.Sprintf("/api/users/%d/password", bob.ID), admin, `{}`, http.StatusOK, &reset)
	e.api("GET", "/api/connections", user, "", http.StatusUnauthorized, nil)
	e.api("POST", "/api/login", nil, `{"username":"bob","password":"`+reset.Password+`"}`, http.StatusOK, nil)

	e.api("DELETE", fmt.Sprintf("/api/users/%d", ana.ID), admin, "", http.StatusNoContent, nil)
	e.api("POST", "/api/login", nil, `{"username":"ana","password":"`+ana.Password+`"}`, http.StatusUnauthorized, nil)
}

// TestUserChangesTheirPassword: a user changes their own password given the current one; a
// wrong current password is refused (and counts as a failed login); their other logins end,
// this one goes on.
func TestUserChangesTheirPassword(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	e.user("bob", false)
	here, there := e.login("bob"), e.login("bob")
	e.api("POST", "/api/me/password", here, `{"current":"wrong password","password":"a new password"}`, http.StatusForbidden, nil)
	resp, _ := e.do("POST", "/api/me/password", here, `{"current":"bob-password","password":"a new password"}`)
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 {
		t.Fatalf("change: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	e.api("GET", "/api/me", resp.Cookies()[0], "", http.StatusOK, nil)
	e.api("GET", "/api/me", there, "", http.StatusUnauthorized, nil)
	e.api("POST", "/api/login", nil, `{"username":"bob","password":"a new password"}`, http.StatusOK, nil)
	e.api("POST", "/api/me/password", resp.Cookies()[0], `{"current":"a new password","password":"short"}`, http.StatusBadRequest, nil)
}

// TestRevokeDisconnects: revoking a user's grant ends their peer sockets in that connection's
// live session; deleting a user ends all of theirs.
func TestRevokeDisconnects(t *testing.T) {
	e := newRelayEnv(t)
	e.user("root", true)
	admin := e.login("root")
	e.agent(e.token, e.desk)
	ownerWS := e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	bobWS := e.peer(e.bob, e.desk.ID, proto.Identity{Name: "bob", Role: proto.RoleMember}, proto.StateHostAvailable)
	var list []accountJSON
	e.api("GET", "/api/users", admin, "", http.StatusOK, &list)
	ids := map[string]int64{}
	for _, u := range list {
		ids[u.Username] = u.ID
	}
	e.api("DELETE", fmt.Sprintf("/api/users/%d/connections/%d", ids["bob"], e.desk.ID), admin, "", http.StatusNoContent, nil)
	expectClosed(t, bobWS)
	e.api("DELETE", fmt.Sprintf("/api/users/%d", ids["alice"]), admin, "", http.StatusNoContent, nil)
	expectClosed(t, ownerWS)
}
