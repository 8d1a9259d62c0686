package main

import (
	"regexp"
	"testing"

	"peerdesk/relay/demo"
)

// TestBrowserLinkProtection: a profile with a passcode and single use, made in Settings; the
// owner's link comes with a six-digit passcode; a guest with a wrong one is told so and stays
// out, with the right one joins (named); the link then opens nothing for a second guest.
func TestBrowserLinkProtection(t *testing.T) {
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
	do("main", "settingsNewProfile", map[string]any{"connection": demoConnection, "name": "Locked", "passcode": true, "singleUse": true})
	do("main", "open", map[string]any{"url": h.url})
	do("main", "openConnection", map[string]any{"name": demoConnection})
	do("main", "menu", nil)
	link := do("main", "share", map[string]any{"profile": "Locked"})
	url, _ := link["url"].(string)
	code, _ := link["passcode"].(string)
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
		t.Fatalf("the menu shows passcode %q", code)
	}
	do("main", "press", map[string]any{"key": "Escape"})

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
