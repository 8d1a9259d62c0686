package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"peerdesk/relay/demo"
	"peerdesk/store"
)

// TestBrowserPresence is issue 4 end to end in real Chromium, with several browser contexts:
// the owner, a logged-in user with two tabs, two anonymous guests and an admin joining from
// Active Sessions. The owner sees each join and leave toast with the right name, the
// indicator count and the tooltip's per-user counts; Kill disconnects everyone; History lists
// all of them afterwards.
func TestBrowserPresence(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true, Width: 640, Height: 480}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bob, err := h.st.CreateUser(ctx, "bob", "bob's password", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.st.Grant(ctx, bob.ID, store.ConnectionID(h.connID)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.CreateUser(ctx, "carol", "carol's password", true); err != nil {
		t.Fatal(err)
	}
	d := startDriver(t)
	cmd := func(name, page string, args map[string]any) map[string]any {
		t.Helper()
		c := map[string]any{"cmd": name, "page": page, "timeout": 20000}
		for k, v := range args {
			c[k] = v
		}
		return d.do(c)
	}
	tooltip := func(want ...string) {
		t.Helper()
		r := cmd("presence", "main", map[string]any{"tooltip": want, "count": float64(len(want))})
		if got := lines(r["tooltip"]); !slices.Equal(got, want) {
			t.Fatalf("owner's tooltip %q, want %q", got, want)
		}
	}

	// The owner.
	cmd("open", "main", map[string]any{"url": h.url})
	cmd("login", "main", map[string]any{"username": testAdmin, "password": testPassword})
	cmd("settingsNewProfile", "main", map[string]any{"connection": demoConnection, "name": "Guests", "readOnly": true})
	cmd("open", "main", map[string]any{"url": h.url})
	cmd("openConnection", "main", map[string]any{"name": demoConnection})
	if r := cmd("presence", "main", nil); r["count"] != nil {
		t.Fatalf("the indicator shows %v while the owner is alone", r["count"])
	}

	// bob, in two tabs.
	cmd("open", "bob1", map[string]any{"url": h.url, "context": "bob"})
	cmd("login", "bob1", map[string]any{"username": "bob", "password": "bob's password"})
	cmd("openConnection", "bob1", map[string]any{"name": demoConnection})
	cmd("waitToast", "main", map[string]any{"text": "bob joined"})
	tooltip("bob (1)")
	cmd("open", "bob2", map[string]any{"url": h.url, "context": "bob"})
	cmd("openConnection", "bob2", map[string]any{"name": demoConnection})
	tooltip("bob (2)")

	// Two anonymous guests through a read-only link.
	cmd("menu", "main", nil)
	url := cmd("share", "main", map[string]any{"profile": "Guests"})["url"].(string)
	cmd("press", "main", map[string]any{"key": "Escape"})
	for _, g := range []string{"guest1", "guest2"} {
		cmd("openShare", g, map[string]any{"url": url, "context": g})
	}
	cmd("waitToast", "main", map[string]any{"text": "Anonymous joined"})
	tooltip("Anonymous (2)", "bob (2)")
	// A third guest gives a name when the page asks for one.
	cmd("openShare", "guest3", map[string]any{"url": url, "context": "guest3", "name": "  Ana "})
	cmd("waitToast", "main", map[string]any{"text": "Ana (guest) joined"})
	tooltip("Ana (guest) (1)", "Anonymous (2)", "bob (2)")
	// Guests see who is there, without toasts.
	r := cmd("participants", "guest1", map[string]any{"lines": []string{"Ana (guest) (1)", "Anonymous (2)", "admin (1)", "bob (2)"}})
	if got := lines(r["participants"]); len(got) != 4 {
		t.Fatalf("guest's participant list %q", got)
	}
	if got := lines(cmd("toasts", "guest1", nil)["toasts"]); len(got) != 0 {
		t.Fatalf("a guest got toasts %q", got)
	}

	// An admin joins from Active Sessions, under the admin's username.
	cmd("open", "carol", map[string]any{"url": h.url, "context": "carol"})
	cmd("login", "carol", map[string]any{"username": "carol", "password": "carol's password"})
	var sessions []struct {
		ID           string   `json:"id"`
		Connection   string   `json:"connection"`
		Owner        string   `json:"owner"`
		Participants []string `json:"participants"`
	}
	unmarshal(t, cmd("activeSessions", "carol", nil)["sessions"], &sessions)
	if len(sessions) != 1 || sessions[0].Owner != testAdmin || !strings.Contains(sessions[0].Connection, demoConnection) {
		t.Fatalf("active sessions %+v", sessions)
	}
	sid := sessions[0].ID
	cmd("joinSession", "carol", map[string]any{"id": sid})
	cmd("waitToast", "main", map[string]any{"text": "carol joined"})
	tooltip("Ana (guest) (1)", "Anonymous (2)", "bob (2)", "carol (1)")

	// One guest leaves.
	cmd("open", "guest2", map[string]any{"url": "about:blank"})
	cmd("waitToast", "main", map[string]any{"text": "Anonymous left"})
	tooltip("Ana (guest) (1)", "Anonymous (1)", "bob (2)", "carol (1)")

	// Kill, from a second admin tab: everyone is disconnected and told why.
	cmd("open", "carol2", map[string]any{"url": h.url, "context": "carol"})
	cmd("activeSessions", "carol2", nil)
	cmd("killSession", "carol2", map[string]any{"id": sid})
	for _, p := range []string{"main", "bob1", "bob2", "guest1", "guest3", "carol"} {
		cmd("waitState", p, map[string]any{"state": "ended"})
		if st := cmd("stateText", p, nil); !strings.Contains(fmt.Sprint(st["text"]), "The session was ended by an administrator") {
			t.Fatalf("%s sees %v after Kill", p, st)
		}
	}

	// History lists every participant, each with a leave time.
	var hist struct {
		Sessions []struct {
			Session      string `json:"session"`
			Participants []struct {
				Name     string  `json:"name"`
				Profile  *string `json:"profile"`
				Address  string  `json:"address"`
				Left     *string `json:"left"`
				ReadOnly bool    `json:"readOnly"`
			} `json:"participants"`
		} `json:"sessions"`
	}
	raw := cmd("history", "carol2", nil)
	unmarshal(t, raw, &hist)
	if len(hist.Sessions) == 0 {
		t.Fatalf("history is empty: %v", raw)
	}
	var names []string
	for _, p := range hist.Sessions[0].Participants {
		names = append(names, p.Name)
		if p.Left == nil || p.Address == "" {
			t.Fatalf("history participant %+v has no leave time or address", p)
		}
		if (p.Name == "Anonymous" || p.Name == "Ana (guest)") && (p.Profile == nil || *p.Profile != "Guests" || !p.ReadOnly) {
			t.Fatalf("guest in history: %+v", p)
		}
	}
	slices.Sort(names)
	if want := []string{"Ana (guest)", "Anonymous", "Anonymous", "admin", "bob", "bob", "carol"}; !slices.Equal(names, want) {
		t.Fatalf("history participants %q, want %q", names, want)
	}
	if ctx.Err() != nil {
		t.Fatal("test ran out of time")
	}
}

// lines turns a JSON array of strings into a slice.
func lines(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, len(arr))
	for i, a := range arr {
		out[i] = fmt.Sprint(a)
	}
	return out
}

// unmarshal re-decodes a driver reply value into out.
func unmarshal(t *testing.T, v, out any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("driver reply %s: %v", b, err)
	}
}
