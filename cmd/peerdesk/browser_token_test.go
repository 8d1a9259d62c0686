package main

import (
	"context"
	"testing"
	"time"

	"peerdesk/relay/demo"
)

// TestBrowserRegenerateToken: in Settings, an administrator clicks "Regenerate token" on a
// connection and confirms; the page shows the new token once, the row says the agent holding
// the old one is offline, the store takes the new token and not the old, and an agent started
// with the token read off the page brings the connection back online.
func TestBrowserRegenerateToken(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true, Width: 64, Height: 64}})
	d := startDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	d.do(map[string]any{"cmd": "open", "url": h.url})
	d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	r := d.do(map[string]any{"cmd": "settingsRegenerateToken", "connection": demoConnection})
	token, _ := r["token"].(string)
	if r["status"] != "offline" || token == "" {
		t.Fatalf("after regenerating: %v", r)
	}
	c, err := h.st.ConnectionByAgentToken(ctx, token)
	if err != nil || int64(c.ID) != h.connID {
		t.Fatalf("the token shown is not the connection's: %v, %v", c, err)
	}

	var logs syncBuffer
	fresh := testAgent(ctx, t, h.url, token, time.Minute, &logs)
	if err := fresh.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	d.do(map[string]any{"cmd": "open", "url": h.url}) // a fresh load lists the connections anew
	if r := d.do(map[string]any{"cmd": "settingsStatus", "connection": demoConnection}); r["status"] != "online" {
		t.Errorf("with the new token's agent connected, Settings shows %v", r)
	}
	if n := h.agent.Stats().Connects; n != 1 {
		t.Errorf("the agent with the old token connected %d times, want 1", n)
	}
}
