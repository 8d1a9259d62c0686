package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/client"
	"peerdesk/relay"
	"peerdesk/relay/demo"
	"peerdesk/store"
)

// syncBuffer is a log sink tests read while agents write to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitUntil polls cond every 10 ms until it holds, failing the test with what at ctx's end.
func waitUntil(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// testAgent runs an agent of a 64x64 still demo desktop against url with token until the test
// ends; its log goes to logs.
func testAgent(ctx context.Context, t *testing.T, url, token string, replacedBackoff time.Duration, logs *syncBuffer) *relay.Agent {
	t.Helper()
	desk, err := demo.New(demo.Config{Width: 64, Height: 64, Still: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := relay.NewAgent(relay.AgentConfig{
		ServerURL: url, Token: token, Source: desk, Logger: zerolog.New(logs),
		SettingEngine: loopbackEngine(), AllowLocalCandidates: true,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, ReplacedBackoff: replacedBackoff,
	})
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return a
}

// agentTestServer starts a server with the admin and the demo connection for the length of
// the test, bounded to 20 s; it returns the test's context, the store, the server and the
// connection's agent token.
func agentTestServer(t *testing.T) (context.Context, *store.Store, *server, string, store.Connection) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	f := serverFlags{listen: "127.0.0.1:0", dbFlags: dbFlags{data: t.TempDir()}, adminUser: testAdmin}
	st, srv, token, c := startTestServer(ctx, t, &f, testLogger(t, false))
	t.Cleanup(func() {
		_ = srv.close()
		_ = st.Close()
		cancel()
	})
	return ctx, st, srv, token, c
}

// TestReplacedAgentRetries: the server closes an agent that a second agent with the same token
// replaced. The replaced agent used to reconnect at once and replace the second, the two taking
// turns for ever; then it stopped for good, so a stolen token displaced the real agent for
// good. It must log why, wait ReplacedBackoff, and try again.
func TestReplacedAgentRetries(t *testing.T) {
	ctx, _, srv, token, _ := agentTestServer(t)

	const backoff = 1500 * time.Millisecond
	var firstLog, secondLog syncBuffer
	first := testAgent(ctx, t, srv.url, token, backoff, &firstLog)
	if err := first.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	second := testAgent(ctx, t, srv.url, token, backoff, &secondLog)
	if err := second.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(ctx, t, "the first agent is told it was replaced", func() bool { return first.Stats().Replaced == 1 })
	replacedAt := time.Now()
	if !strings.Contains(firstLog.String(), "another agent holding this connection's token took its place") {
		t.Errorf("the replaced agent did not log why; its log:\n%s", firstLog.String())
	}
	waitUntil(ctx, t, "the replaced agent connects again", func() bool { return first.Stats().Connects == 2 })
	if waited := time.Since(replacedAt); waited < backoff*9/10 {
		t.Errorf("the replaced agent connected again after %v, want ≥ %v", waited, backoff)
	}
	waitUntil(ctx, t, "the second agent is replaced in turn", func() bool { return second.Stats().Replaced == 1 })
	if n := second.Stats().Connects; n != 1 {
		t.Errorf("the second agent connected %d times while waiting its backoff, want 1", n)
	}
}

// TestRegenerateToken: an administrator regenerates a connection's agent token through the API
// (what Settings' "Regenerate token" calls): the reply shows the new token once, the agent
// holding the old one is disconnected at once and refused from then on (logging why), and an
// agent with the new token takes over. Users who are not administrators are refused.
func TestRegenerateToken(t *testing.T) {
	ctx, st, srv, token, c := agentTestServer(t)
	h := &harness{t: t, url: srv.url}
	var oldLog, newLog syncBuffer
	old := testAgent(ctx, t, srv.url, token, time.Minute, &oldLog)
	if err := old.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	admin := h.login(ctx)
	online := func() bool {
		var conns []struct {
			Online bool `json:"online"`
		}
		if code := h.api(ctx, "GET", "/api/connections", admin, nil, &conns); code != 200 || len(conns) != 1 {
			t.Fatalf("GET /api/connections = %d %v", code, conns)
		}
		return conns[0].Online
	}
	if !online() {
		t.Fatal("the connection is not online with its agent connected")
	}

	if _, err := st.CreateUser(ctx, "bob", testPassword, false); err != nil {
		t.Fatal(err)
	}
	bob, err := client.Login(ctx, srv.url, "bob", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/connections/%d/token", c.ID)
	if code := h.api(ctx, "POST", path, bob, nil, nil); code != 403 {
		t.Errorf("a user who is not an administrator regenerated the token: %d, want 403", code)
	}
	if code := h.api(ctx, "POST", "/api/connections/999/token", admin, nil, nil); code != 404 {
		t.Errorf("regenerating the token of no connection = %d, want 404", code)
	}
	var reply struct {
		AgentToken string `json:"agentToken"`
	}
	if code := h.api(ctx, "POST", path, admin, nil, &reply); code != 200 || reply.AgentToken == "" || reply.AgentToken == token {
		t.Fatalf("POST %s = %d, token %q (old %q)", path, code, reply.AgentToken, token)
	}
	if online() {
		t.Error("the agent holding the old token is still connected after the reply")
	}
	waitUntil(ctx, t, "the old agent logs that its token is refused", func() bool {
		return strings.Contains(oldLog.String(), "the signaling server refused the agent token")
	})
	if strings.Contains(oldLog.String()+newLog.String(), reply.AgentToken) || strings.Contains(oldLog.String(), token) {
		t.Error("an agent logged its token")
	}

	fresh := testAgent(ctx, t, srv.url, reply.AgentToken, time.Minute, &newLog)
	if err := fresh.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	if !online() {
		t.Error("the agent with the new token is not online")
	}
	if n := old.Stats().Connects; n != 1 {
		t.Errorf("the agent with the old token connected %d times, want 1", n)
	}
	if _, err := st.ConnectionByAgentToken(ctx, token); err == nil {
		t.Error("the store still knows the old token")
	}
}
