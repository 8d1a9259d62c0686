package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"peerdesk/relay/demo"
)

// TestBrowserUsers: an admin runs accounts from the browser: Settings → Users creates a user
// with a generated password (shown once) and refuses a mistyped or taken one, grants the
// connection, which the new user then opens in their own browser; revoking the grant throws
// them out of the live session. The user changes their own password from the user menu (a
// wrong current password refused); the admin resets it and deletes the account. The admin's
// own row offers neither delete nor demotion.
func TestBrowserUsers(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true, Width: 320, Height: 200}})
	d := startDriver(t)
	as := func(page string, cmd map[string]any) map[string]any {
		cmd["page"] = page
		return d.do(cmd)
	}
	d.do(map[string]any{"cmd": "open", "url": h.url})
	d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})

	created := d.do(map[string]any{"cmd": "userCreate", "username": "ana"})
	pw, _ := created["password"].(string)
	if len(pw) < 16 {
		t.Fatalf("created ana: %v", created)
	}
	for _, c := range []map[string]any{
		{"username": "bea", "password": "long enough", "again": "long enougH"},
		{"username": "ANA", "password": "long enough"},
		{"username": "no spaces", "password": ""},
	} {
		c["cmd"] = "userCreate"
		if r := d.do(c); r["error"] == nil || r["error"] == "" {
			t.Errorf("create %v: %v, want an error", c, r)
		}
	}
	if r := d.do(map[string]any{"cmd": "userSet", "username": "ana", "connection": demoConnection, "granted": true}); r["error"] != "" {
		t.Fatalf("grant: %v", r)
	}
	var list struct {
		Users []struct {
			Username    string
			Admin, Self bool
			Connections []string
		}
	}
	unmarshal(t, d.do(map[string]any{"cmd": "users"})["users"], &list.Users)
	for _, u := range list.Users {
		switch u.Username {
		case "ana":
			if u.Admin || u.Self || !slices.Equal(u.Connections, []string{demoConnection}) {
				t.Errorf("ana's row: %+v", u)
			}
		case testAdmin:
			if !u.Admin || !u.Self {
				t.Errorf("the admin's own row: %+v", u)
			}
		}
	}
	if r := d.do(map[string]any{"cmd": "eval", "js": fmt.Sprintf(`!!document.querySelector('#users tr.user[data-username=%q] .user-delete')`, testAdmin)}); r["value"] != false {
		t.Error("the admin's own row offers Delete")
	}

	// Ana, in her own browser, opens the granted connection; the revoke throws her out.
	as("ana", map[string]any{"cmd": "open", "url": h.url, "context": "ana"})
	as("ana", map[string]any{"cmd": "login", "username": "ana", "password": pw})
	as("ana", map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 20000})
	if r := d.do(map[string]any{"cmd": "userSet", "username": "ana", "connection": demoConnection, "granted": false}); r["error"] != "" {
		t.Fatalf("revoke: %v", r)
	}
	as("ana", map[string]any{"cmd": "waitState", "state": "ended", "timeout": 10000})
	if r := as("ana", map[string]any{"cmd": "stateText"}); !strings.Contains(fmt.Sprint(r["text"]), "revoked") {
		t.Errorf("ana's page after the revoke: %v", r)
	}

	// Ana changes her password from the user menu.
	as("ana", map[string]any{"cmd": "open", "url": h.url, "context": "ana"})
	if r := as("ana", map[string]any{"cmd": "changePassword", "current": "not it at all", "password": "ana's new password"}); r["error"] == nil {
		t.Errorf("a wrong current password: %v", r)
	}
	if r := as("ana", map[string]any{"cmd": "changePassword", "current": pw, "password": "ana's new password", "again": "ana's other password"}); r["error"] == nil {
		t.Errorf("a mistyped new password: %v", r)
	}
	if r := as("ana", map[string]any{"cmd": "changePassword", "current": pw, "password": "ana's new password"}); r["done"] != "Password changed" {
		t.Fatalf("change password: %v", r)
	}
	as("ana2", map[string]any{"cmd": "open", "url": h.url, "context": "ana2"})
	as("ana2", map[string]any{"cmd": "login", "username": "ana", "password": "ana's new password"})

	// The admin resets it, then deletes the account.
	reset, _ := d.do(map[string]any{"cmd": "userReset", "username": "ana"})["password"].(string)
	as("ana3", map[string]any{"cmd": "open", "url": h.url, "context": "ana3"})
	if r := d.try(map[string]any{"cmd": "login", "page": "ana3", "username": "ana", "password": "ana's new password"}); r["ok"] != false {
		t.Errorf("the old password after a reset: %v", r)
	}
	as("ana3", map[string]any{"cmd": "login", "username": "ana", "password": reset})
	d.do(map[string]any{"cmd": "userDelete", "username": "ana"})
	as("ana4", map[string]any{"cmd": "open", "url": h.url, "context": "ana4"})
	if r := d.try(map[string]any{"cmd": "login", "page": "ana4", "username": "ana", "password": reset}); r["ok"] != false {
		t.Errorf("a deleted account logs in: %v", r)
	}
}
