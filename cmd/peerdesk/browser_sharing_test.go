package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"slices"
	"strings"
	"testing"
	"time"

	"peerdesk/relay/demo"
)

// TestBrowserSharing is issue 3 end to end in real Chromium: an admin makes sharing profiles
// in Settings; the owner opens the session, opens the connection menu with the keyboard
// shortcut, picks a profile and reads the URL; guests in cookie-less browser contexts open it:
// the read-only one cannot change the desktop, the full-access one can, neither has a user or
// Sharing menu; revoking disconnects its guest; the owner leaving ends the other guest's
// session after the grace period; the old link then shows the invalid page.
func TestBrowserSharing(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true, Width: 800, Height: 600}, ownerGrace: time.Second})
	d := startDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	d.do(map[string]any{"cmd": "open", "url": h.url})
	d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	d.do(map[string]any{"cmd": "settingsNewProfile", "connection": demoConnection, "name": "Watch", "readOnly": true})
	d.do(map[string]any{"cmd": "settingsNewProfile", "connection": demoConnection, "name": "Help out", "readOnly": false})

	// The owner's session and its connection menu, opened with both shortcuts.
	d.do(map[string]any{"cmd": "open", "url": h.url})
	d.do(map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 20000})
	for _, combo := range []string{"alt", ""} {
		m := d.do(map[string]any{"cmd": "menu", "combo": combo})
		if m["userMenu"] != true || m["sharingMenu"] != true || !sameNames(m["profiles"], "Help out", "Watch") {
			t.Fatalf("owner's menu (%q): %v", combo, m)
		}
		if combo == "alt" {
			d.do(map[string]any{"cmd": "press", "key": "Escape"})
		}
	}
	viewURL := d.do(map[string]any{"cmd": "share", "profile": "Watch"})["url"].(string)
	fullURL := d.do(map[string]any{"cmd": "share", "profile": "Help out"})["url"].(string)
	if !strings.HasPrefix(viewURL, h.url+"/s/") || viewURL == fullURL {
		t.Fatalf("share URLs %q and %q", viewURL, fullURL)
	}

	// A read-only guest sees the desktop, has no menus, and its click and keys do nothing.
	r := d.do(map[string]any{"cmd": "openShare", "url": viewURL, "page": "viewer", "context": "viewer", "timeout": 20000})
	if r["state"] != "connected" {
		t.Fatalf("read-only guest: %v", r)
	}
	m := d.do(map[string]any{"cmd": "menu", "page": "viewer"})
	if m["userMenu"] != false || m["sharingMenu"] != false {
		t.Fatalf("guest's menu: %v", m)
	}
	d.do(map[string]any{"cmd": "press", "key": "Escape", "page": "viewer"})
	if url := d.do(map[string]any{"cmd": "eval", "page": "viewer", "js": "location.href"})["value"]; strings.Contains(fmt.Sprint(url), "/s/") {
		t.Fatalf("the share key stayed in the address bar: %v", url)
	}
	viewPt, fullPt := image.Pt(200, 300), image.Pt(600, 300)
	before := h.desk.Snapshot()
	d.do(map[string]any{"cmd": "click", "x": viewPt.X, "y": viewPt.Y, "page": "viewer"})
	d.do(map[string]any{"cmd": "type", "text": "nope", "page": "viewer"})

	// A full-access guest's click lands; by then the read-only guest's input would have too.
	r = d.do(map[string]any{"cmd": "openShare", "url": fullURL, "page": "helper", "context": "helper", "timeout": 20000})
	if r["state"] != "connected" {
		t.Fatalf("full-access guest: %v", r)
	}
	applied := h.agent.Stats().InputApplied // the owner's pages may have sent some too
	d.do(map[string]any{"cmd": "click", "x": fullPt.X, "y": fullPt.Y, "page": "helper"})
	waitApplied(ctx, t, h, applied+2) // the press and the release
	after := h.desk.Snapshot()
	if changed := changedBounds(before, after); changed.Empty() || !fullPt.In(changed.Inset(-8)) || viewPt.In(changed.Inset(-8)) {
		t.Fatalf("host changed in %v; want around the full-access click %v and not the read-only one %v", changed, fullPt, viewPt)
	}

	// The owner sees both links with one guest each, and revokes the read-only one.
	var links []struct {
		ID      string  `json:"id"`
		Profile string  `json:"profile"`
		Guests  float64 `json:"guests"`
	}
	raw, _ := json.Marshal(d.do(map[string]any{"cmd": "links"})["links"])
	if err := json.Unmarshal(raw, &links); err != nil || len(links) != 2 {
		t.Fatalf("links %s: %v", raw, err)
	}
	var viewID string
	for _, l := range links {
		if l.Guests != 1 {
			t.Fatalf("link %+v: want 1 guest", l)
		}
		if l.Profile == "Watch" {
			viewID = l.ID
		}
	}
	d.do(map[string]any{"cmd": "revoke", "id": viewID})
	d.do(map[string]any{"cmd": "waitState", "state": "ended", "page": "viewer", "timeout": 5000})
	if st := d.do(map[string]any{"cmd": "stateText", "page": "viewer"}); !strings.Contains(fmt.Sprint(st["text"]), "This link was revoked") {
		t.Fatalf("revoked guest sees %v", st)
	}
	if st := d.do(map[string]any{"cmd": "stateText", "page": "helper"}); st["state"] != "connected" {
		t.Fatalf("the other guest after the revoke: %v", st)
	}

	// The owner leaves; after the grace period the guest's session ends, and the link is dead.
	d.do(map[string]any{"cmd": "open", "url": h.url})
	d.do(map[string]any{"cmd": "waitState", "state": "ended", "page": "helper", "timeout": 15000})
	if st := d.do(map[string]any{"cmd": "stateText", "page": "helper"}); !strings.Contains(fmt.Sprint(st["text"]), "The session has ended") {
		t.Fatalf("guest after the owner left sees %v", st)
	}
	for _, u := range []string{fullURL, viewURL} {
		r := d.do(map[string]any{"cmd": "openShare", "url": u, "page": "late", "context": "late"})
		if r["invalid"] != true || !strings.Contains(fmt.Sprint(r["text"]), "This link is invalid or has expired") {
			t.Fatalf("dead link %s shows %v", u[:len(h.url)+5], r)
		}
	}
	select {
	case <-ctx.Done():
		t.Fatal("test ran out of time")
	default:
	}
}

// sameNames reports whether v (a JSON array of strings) holds exactly names, in any order.
func sameNames(v any, names ...string) bool {
	got := lines(v)
	slices.Sort(got)
	slices.Sort(names)
	return slices.Equal(got, names)
}
