package main

import (
	"regexp"
	"testing"

	"peerdesk/relay/demo"
)

// driveFn sends one driver command to a page with its arguments, timeout 20 s.
type driveFn func(page, cmd string, args map[string]any) map[string]any

// sharedSession starts a still 320x200 demo, logs the admin in, makes a sharing profile of
// the given fields (name included), opens the connection as its owner on page "main" and makes
// a link of the profile: it returns the harness, the driver and the share command's reply.
func sharedSession(t *testing.T, profile map[string]any) (*harness, driveFn, map[string]any) {
	t.Helper()
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true, Width: 320, Height: 200}})
	d := startDriver(t)
	do := func(page, cmd string, args map[string]any) map[string]any {
		c := map[string]any{"cmd": cmd, "page": page, "timeout": 20000}
		for k, v := range args {
			c[k] = v
		}
		return d.do(c)
	}
	do("main", "open", map[string]any{"url": h.url})
	do("main", "login", map[string]any{"username": testAdmin, "password": testPassword})
	profile["connection"] = demoConnection
	do("main", "settingsNewProfile", profile)
	do("main", "open", map[string]any{"url": h.url})
	do("main", "openConnection", map[string]any{"name": demoConnection})
	do("main", "menu", nil)
	link := do("main", "share", map[string]any{"profile": profile["name"]})
	do("main", "press", map[string]any{"key": "Escape"})
	return h, do, link
}

// TestBrowserLinkProtection: a profile with a passcode and single use, made in Settings; the
// owner's link comes with a six-digit passcode; a guest with a wrong one is told so and stays
// out, with the right one joins (named); the link then opens nothing for a second guest.
func TestBrowserLinkProtection(t *testing.T) {
	_, do, link := sharedSession(t, map[string]any{"name": "Locked", "passcode": true, "singleUse": true})
	url, _ := link["url"].(string)
	code, _ := link["passcode"].(string)
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
		t.Fatalf("the menu shows passcode %q", code)
	}

	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if r := do("guest", "openShare", map[string]any{"url": url, "context": "guest", "name": "Ana", "passcode": wrong}); r["refused"] != "Wrong passcode" {
		t.Fatalf("a wrong passcode: %v", r)
	}
	if r := do("guest", "openShare", map[string]any{"url": url, "context": "guest", "name": "Ana", "passcode": code}); r["state"] != "connected" {
		t.Fatalf("the right passcode: %v", r)
	}
	do("main", "waitToast", map[string]any{"text": "Ana (guest) joined"})
	if r := do("guest2", "openShare", map[string]any{"url": url, "context": "guest2", "passcode": code}); r["invalid"] != true {
		t.Fatalf("a used single-use link: %v", r)
	}
}

// TestBrowserWaitingRoom: through a link whose profile admits each guest, a guest waits, told
// so, with nothing of the desktop; the owner sees who waits and lets one in, who then sees the
// desktop, and turns another away, who is told so.
func TestBrowserWaitingRoom(t *testing.T) {
	_, do, link := sharedSession(t, map[string]any{"name": "Door", "admit": true})
	url, _ := link["url"].(string)

	if r := do("ana", "openShare", map[string]any{"url": url, "context": "ana", "name": "Ana"}); r["waiting"] != true {
		t.Fatalf("Ana through the door: %v", r)
	}
	if r := do("ana", "stateText", nil); r["text"] != "Waiting for the host to let you in" {
		t.Errorf("Ana's page while waiting: %v", r)
	}
	if r := do("ana", "state", nil); r["frames"] != float64(0) {
		t.Errorf("Ana got %v frames before she was let in", r["frames"])
	}
	do("bob", "openShare", map[string]any{"url": url, "context": "bob", "name": "Bob"})
	do("main", "waiting", map[string]any{"names": []string{"Ana (guest)", "Bob (guest)"}})
	do("main", "admit", map[string]any{"name": "Ana (guest)", "allow": true})
	do("ana", "waitState", map[string]any{"state": "connected"})
	do("ana", "waitFrames", map[string]any{"min": 1})
	do("main", "admit", map[string]any{"name": "Bob (guest)", "allow": false})
	do("bob", "waitState", map[string]any{"state": "ended"})
	if r := do("bob", "stateText", nil); r["text"] != "The host did not let you in" {
		t.Errorf("Bob's page after Deny: %v", r)
	}
	do("main", "waiting", map[string]any{"names": []string{}})
}
