package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"peerdesk/client"
)

// startNATS runs a NATS server on loopback in the test's process until the test ends.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
}

// testCluster is three `peerdesk serve` nodes on one PostgreSQL database and one NATS.
type testCluster struct {
	t     *testing.T
	bin   string
	nodes map[string]*demoProcess
}

func startCluster(t *testing.T, names ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, bin: peerdeskBinary(t), nodes: make(map[string]*demoProcess)}
	natsURL, db := startNATS(t), postgresDatabase(t)
	for _, n := range names {
		c.nodes[n] = startProcess(t, c.bin, []string{"serve", "-listen", "127.0.0.1:0", "-database", db, "-nats", natsURL, "-node", n,
			"-data", t.TempDir(), "-turn-udp", "127.0.0.1:0", "-turn-tcp", "", "-log-level", "warn", "-owner-grace", "3s"},
			"peerdesk is serving on ")
	}
	return c
}

func (c *testCluster) url(node string) string { return c.nodes[node].url }

// onNode returns share URL u as served by node.
func (c *testCluster) onNode(u, node string) string {
	_, path, _ := strings.Cut(strings.TrimPrefix(u, "http://"), "/")
	return c.url(node) + "/" + path
}

// waitOnline waits until node lists connection id as online.
func (c *testCluster) waitOnline(ctx context.Context, node, cookie string, id int64) {
	c.t.Helper()
	for ctx.Err() == nil {
		var conns []struct {
			ID     int64 `json:"id"`
			Online bool  `json:"online"`
		}
		apiCall(ctx, c.t, http.MethodGet, c.url(node)+"/api/connections", cookie, nil, &conns)
		for _, x := range conns {
			if x.ID == id && x.Online {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond): // polls a state only the API shows
		}
	}
	c.t.Fatalf("node %s never listed connection %d online", node, id)
}

// liveSessions returns node's Active Sessions: session id → participant names.
func (c *testCluster) liveSessions(ctx context.Context, node, cookie string) map[string][]string {
	c.t.Helper()
	var live []struct {
		ID           string `json:"id"`
		Participants []struct {
			Name        string `json:"name"`
			Connections int    `json:"connections"`
		} `json:"participants"`
	}
	if st, _ := apiCall(ctx, c.t, http.MethodGet, c.url(node)+"/api/sessions", cookie, nil, &live); st != http.StatusOK {
		c.t.Fatalf("node %s: active sessions: status %d", node, st)
	}
	out := make(map[string][]string)
	for _, l := range live {
		for _, p := range l.Participants {
			out[l.ID] = append(out[l.ID], fmt.Sprintf("%s×%d", p.Name, p.Connections))
		}
	}
	return out
}

// TestCluster: owner on node a, the agent on node b, guests on node c. Every node lists the
// session with the same participants; a revoke on a throws the guest on c out at once; kill -9
// of c: its guest is back through a; kill -9 of b (the session's home): the participants are
// told the session ended with its node, the agent reconnects to a, and the owner's new session
// runs there; the old session's links are dead and the history says why.
func TestCluster(t *testing.T) {
	c := startCluster(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cookie, err := client.Login(ctx, c.url("a"), testAdmin, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	var conn struct {
		ID    int64  `json:"id"`
		Token string `json:"agentToken"`
	}
	if st, _ := apiCall(ctx, t, http.MethodPost, c.url("a")+"/api/connections", cookie, map[string]any{"name": "Cluster desktop"}, &conn); st != http.StatusCreated {
		t.Fatalf("create connection: status %d", st)
	}
	startProcess(t, c.bin, []string{"relay", "-server", c.url("b") + "," + c.url("a"), "-ice-loopback", "-log-level", "warn"}, "",
		"PEERDESK_AGENT_TOKEN="+conn.Token)
	c.waitOnline(ctx, "c", cookie, conn.ID)

	opts := []client.Option{client.WithSettingEngine(*loopbackEngine()), client.WithLogger(testLogger(t, false))}
	start := time.Now()
	owner, err := client.Join(ctx, c.url("a"), conn.ID, cookie, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := owner.WaitFrames(ctx, 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("owner on a, agent on b: first frame %v after the join", time.Since(start).Round(time.Millisecond))
	var turnURLs []string
	for _, s := range owner.Hello().ICEServers {
		turnURLs = append(turnURLs, s.URLs...)
	}
	if n := strings.Count(strings.Join(turnURLs, " "), "turn:"); n < 3 {
		t.Errorf("the owner's ICE servers name %d TURN URLs (%v), want every node's", n, turnURLs)
	}

	var profile struct {
		ID int64 `json:"id"`
	}
	if st, _ := apiCall(ctx, t, http.MethodPost, fmt.Sprintf("%s/api/connections/%d/profiles", c.url("a"), conn.ID), cookie,
		map[string]any{"name": "Support"}, &profile); st != http.StatusCreated {
		t.Fatalf("create profile: status %d", st)
	}
	sid := owner.Hello().Session.ID
	link := func() (int64, string) {
		var l struct {
			ID  int64  `json:"id"`
			URL string `json:"url"`
		}
		if st, _ := apiCall(ctx, t, http.MethodPost, c.url("a")+"/api/sessions/"+sid+"/links", cookie, map[string]any{"profile": profile.ID}, &l); st != http.StatusCreated {
			t.Fatalf("create link on a: status %d", st)
		}
		return l.ID, l.URL
	}
	id1, url1 := link()
	start = time.Now()
	guest, err := client.JoinShare(ctx, c.onNode(url1, "c"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer guest.Close()
	if err := guest.WaitFrames(ctx, 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("guest on c: first frame %v after the join", time.Since(start).Round(time.Millisecond))
	for _, n := range []string{"a", "b", "c"} {
		got := c.liveSessions(ctx, n, cookie)
		if want := "Anonymous×1 admin×1"; len(got) != 1 || strings.Join(got[sid], " ") != want {
			t.Errorf("node %s's Active Sessions: %v, want %s: %s", n, got, sid, want)
		}
	}

	start = time.Now()
	if st, _ := apiCall(ctx, t, http.MethodDelete, fmt.Sprintf("%s/api/links/%d", c.url("a"), id1), cookie, nil, nil); st != http.StatusNoContent {
		t.Fatalf("revoke on a: status %d", st)
	}
	if err := waitEnded(t, guest, time.Second); !errors.Is(err, client.ErrEnded) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked guest on c ended with %v", err)
	}
	t.Logf("revoke on a: the guest on c was out %v later", time.Since(start).Round(time.Millisecond))

	_, url2 := link()
	guest2, err := client.JoinShare(ctx, c.onNode(url2, "c"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer guest2.Close()
	if err := guest2.WaitFrames(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.nodes["c"].kill()
	start = time.Now()
	waitEnded(t, guest2, 10*time.Second)
	back, err := client.JoinShare(ctx, c.onNode(url2, "a"), opts...)
	if err != nil {
		t.Fatalf("rejoin through a after c was killed: %v", err)
	}
	defer back.Close()
	if err := back.WaitFrames(ctx, 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("kill -9 of c: its guest was back on the desktop through a %v later", time.Since(start).Round(time.Millisecond))
	if owner.Err() != nil {
		t.Fatalf("the owner on a lost its session when c died: %v", owner.Err())
	}

	c.nodes["b"].kill()
	start = time.Now()
	for _, s := range []*client.Session{owner, back} {
		if err := waitEnded(t, s, 5*time.Second); !errors.Is(err, client.ErrEnded) || !strings.Contains(err.Error(), "server node") {
			t.Errorf("a participant on a, when b died: %v, want the session ended with its node", err)
		}
	}
	t.Logf("kill -9 of b: participants on a told %v later", time.Since(start).Round(time.Millisecond))
	if _, err := client.JoinShare(ctx, c.onNode(url2, "a"), opts...); !errors.Is(err, client.ErrHTTP) || !strings.Contains(err.Error(), "invalid or has expired") {
		t.Errorf("a link of the session b ran: %v, want invalid", err)
	}
	again, err := client.Join(ctx, c.url("a"), conn.ID, cookie, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.WaitFrames(ctx, 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("kill -9 of b: the owner's new session on a had the desktop %v later (the agent reconnected to a)", time.Since(start).Round(time.Millisecond))
	if again.Hello().Session.ID == sid {
		t.Error("the session b ran did not end")
	}
	var hist struct {
		Sessions []struct {
			ID        string `json:"id"`
			EndReason string `json:"endReason"`
		} `json:"sessions"`
	}
	apiCall(ctx, t, http.MethodGet, c.url("a")+"/api/history", cookie, nil, &hist)
	for _, h := range hist.Sessions {
		if h.ID == sid && h.EndReason != "server node failed" {
			t.Errorf("history: the session b ran ended for %q, want server node failed", h.EndReason)
		}
	}
}
