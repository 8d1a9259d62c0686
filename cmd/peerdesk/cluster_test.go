package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"peerdesk/client"
	"peerdesk/internal/testnats"
)

// testCluster is three `peerdesk serve` nodes on one PostgreSQL database and one NATS.
type testCluster struct {
	t     testing.TB
	bin   string
	nodes map[string]*demoProcess
}

// startCluster starts the nodes names, each `peerdesk serve` with extra flags.
func startCluster(t testing.TB, extra []string, names ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, bin: peerdeskBinary(t), nodes: make(map[string]*demoProcess)}
	natsURL, db := testnats.Start(t), postgresDatabase(t)
	for _, n := range names {
		args := []string{"serve", "-listen", "127.0.0.1:0", "-database", db, "-nats", natsURL, "-node", n,
			"-data", t.TempDir(), "-turn-udp", "127.0.0.1:0", "-turn-tcp", "", "-log-level", "warn", "-owner-grace", "3s"}
		c.nodes[n] = startProcess(t, c.bin, append(args, extra...), "peerdesk is serving on ")
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

// desktop logs the admin in through node a, makes connection name and starts its agent (a
// demo desktop of args' size, if given), dialling node b first, then a; it returns once the
// agent is online.
func (c *testCluster) desktop(ctx context.Context, name string, args ...string) *clusterRun {
	c.t.Helper()
	cookie, err := client.Login(ctx, c.url("a"), testAdmin, testPassword)
	if err != nil {
		c.t.Fatal(err)
	}
	var conn struct {
		ID    int64  `json:"id"`
		Token string `json:"agentToken"`
	}
	if st, _ := apiCall(ctx, c.t, http.MethodPost, c.url("a")+"/api/connections", cookie, map[string]any{"name": name}, &conn); st != http.StatusCreated {
		c.t.Fatalf("create connection: status %d", st)
	}
	startProcess(c.t, c.bin, append([]string{"relay", "-server", c.url("b") + "," + c.url("a"), "-ice-loopback", "-log-level", "warn"}, args...), "",
		"PEERDESK_AGENT_TOKEN="+conn.Token)
	c.waitOnline(ctx, "a", cookie, conn.ID)
	return &clusterRun{testCluster: c, ctx: ctx, cookie: cookie, conn: conn.ID, opts: []client.Option{client.WithSettingEngine(*loopbackEngine())}}
}

// clusterRun is TestCluster's state: the cluster, the admin's cookie, the connection.
type clusterRun struct {
	*testCluster
	ctx    context.Context
	cookie string
	conn   int64
	opts   []client.Option
}

// join joins the connection through node as the admin and waits for the desktop.
func (r *clusterRun) join(node string) *client.Session {
	r.t.Helper()
	s, err := client.Join(r.ctx, r.url(node), r.conn, r.cookie, r.opts...)
	if err != nil {
		r.t.Fatalf("join through %s: %v", node, err)
	}
	r.t.Cleanup(func() { _ = s.Close() })
	if err := s.WaitFrames(r.ctx, 1); err != nil {
		r.t.Fatal(err)
	}
	return s
}

// guest joins share URL u through node and waits for the desktop.
func (r *clusterRun) guest(u, node string, opts ...client.Option) *client.Session {
	r.t.Helper()
	s, err := client.JoinShare(r.ctx, r.onNode(u, node), slices.Concat(r.opts, opts)...)
	if err != nil {
		r.t.Fatalf("join a link through %s: %v", node, err)
	}
	r.t.Cleanup(func() { _ = s.Close() })
	if err := s.WaitFrames(r.ctx, 1); err != nil {
		r.t.Fatal(err)
	}
	return s
}

// profile creates a sharing profile through node a.
func (r *clusterRun) profile(name string, maxGuests int) int64 {
	r.t.Helper()
	var p struct {
		ID int64 `json:"id"`
	}
	if st, _ := apiCall(r.ctx, r.t, http.MethodPost, fmt.Sprintf("%s/api/connections/%d/profiles", r.url("a"), r.conn), r.cookie,
		map[string]any{"name": name, "maxGuests": maxGuests}, &p); st != http.StatusCreated {
		r.t.Fatalf("create profile: status %d", st)
	}
	return p.ID
}

// link makes a link of profile in owner's session through node a.
func (r *clusterRun) link(owner *client.Session, profile int64) (int64, string) {
	r.t.Helper()
	var l struct {
		ID  int64  `json:"id"`
		URL string `json:"url"`
	}
	path := r.url("a") + "/api/sessions/" + owner.Hello().Session.ID + "/links"
	if st, _ := apiCall(r.ctx, r.t, http.MethodPost, path, r.cookie, map[string]any{"profile": profile}, &l); st != http.StatusCreated {
		r.t.Fatalf("create link on a: status %d", st)
	}
	return l.ID, l.URL
}

// TestCluster: owner on node a, the agent on node b, guests on node c (Go peers and a
// Chromium page). Every node lists the session with the same participants; guest limits, a
// revoke on a, the owner's grace and a kill from c reach the session on b at once; failed
// logins count on every node; kill -9 of c: its guests are back through a (the page by
// itself); kill -9 of b (the session's home): the participants are told the session ended
// with its node, the agent reconnects to a and the owner's new session runs there; the old
// session's links are dead and the history says why.
func TestCluster(t *testing.T) {
	c := startCluster(t, nil, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := c.desktop(ctx, "Cluster desktop")
	r.opts = append(r.opts, client.WithLogger(testLogger(t, false)))
	cookie := r.cookie

	start := time.Now()
	owner := r.join("a")
	t.Logf("owner on a, agent on b: first frame %v after the join", time.Since(start).Round(time.Millisecond))
	var turnURLs []string
	for _, s := range owner.Hello().ICEServers {
		turnURLs = append(turnURLs, s.URLs...)
	}
	if n := strings.Count(strings.Join(turnURLs, " "), "turn:"); n < 3 {
		t.Errorf("the owner's ICE servers name %d TURN URLs (%v), want every node's", n, turnURLs)
	}
	support, one := r.profile("Support", 0), r.profile("One guest", 1)
	id1, url1 := r.link(owner, support)
	start = time.Now()
	guest := r.guest(url1, "c")
	t.Logf("guest on c: first frame %v after the join", time.Since(start).Round(time.Millisecond))
	_, urlOne := r.link(owner, one)
	r.guest(urlOne, "c")
	if _, err := client.JoinShare(ctx, r.onNode(urlOne, "a"), r.opts...); err == nil || !strings.Contains(err.Error(), "guest limit") {
		t.Errorf("a second guest of a one-guest link, through a: %v, want the guest limit", err)
	}
	sid := owner.Hello().Session.ID
	// Presence comes from the agent, over the data channels: the same for all, wherever their
	// sockets are.
	presence := func(s *client.Session, who string) {
		t.Helper()
		if err := s.WaitRoster(ctx, func(r client.Roster) bool { return r.Connections("Anonymous") == 2 && r.Connections("admin") == 1 }); err != nil {
			t.Errorf("%s's roster: %+v, want admin and two Anonymous", who, s.Roster())
		}
	}
	presence(owner, "the owner on a")
	presence(guest, "the guest on c")
	for _, n := range []string{"a", "b", "c"} {
		got := c.liveSessions(ctx, n, cookie)
		if want := "Anonymous×2 admin×1"; len(got) != 1 || strings.Join(got[sid], " ") != want {
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

	clusterLoginThrottle(t, r)
	owner = clusterSessionEnds(t, r, owner, support)
	clusterFailures(t, r, owner, support)
}

// clusterLoginThrottle: failed logins spread over the nodes count on all of them.
func clusterLoginThrottle(t *testing.T, r *clusterRun) {
	refused, throttled := 0, map[string]int{}
	for i := 0; len(throttled) < 3 && i < 40; i++ {
		n := []string{"a", "b", "c"}[i%3]
		st, _ := apiCall(r.ctx, t, http.MethodPost, r.url(n)+"/api/login", "", map[string]any{"username": "mallory", "password": "guess"}, nil)
		switch st {
		case http.StatusUnauthorized:
			refused++
		case http.StatusTooManyRequests:
			throttled[n]++
		default:
			t.Fatalf("a failed login on %s: status %d", n, st)
		}
	}
	// One node's throttle lets a username fail loginUserMisses times; three of them unshared
	// would let it fail three times as often.
	if refused > 6 || len(throttled) < 3 {
		t.Errorf("failed logins over three nodes: %d refused before every node throttled (%v), want ≤ 6", refused, throttled)
	}
	t.Logf("failed logins of one username over three nodes: %d refused, then every node throttled", refused)
}

// clusterSessionEnds: the owner's grace and a kill from c end the session on b for the
// participants on every node; it returns the owner of a new session.
func clusterSessionEnds(t *testing.T, r *clusterRun, owner *client.Session, profile int64) *client.Session {
	_, u := r.link(owner, profile)
	g := r.guest(u, "c")
	_ = owner.Close()
	start := time.Now()
	if err := waitEnded(t, g, 10*time.Second); !errors.Is(err, client.ErrEnded) || !strings.Contains(err.Error(), "The session has ended") {
		t.Errorf("guest on c when the owner on a left: %v", err)
	}
	t.Logf("owner's grace (3 s) over nodes: the guest on c was told %v after the owner left", time.Since(start).Round(time.Millisecond))

	owner = r.join("a")
	_, u = r.link(owner, profile)
	g = r.guest(u, "b")
	start = time.Now()
	if st, _ := apiCall(r.ctx, t, http.MethodDelete, r.url("c")+"/api/sessions/"+owner.Hello().Session.ID, r.cookie, nil, nil); st != http.StatusNoContent {
		t.Fatalf("kill on c: status %d", st)
	}
	for _, s := range []*client.Session{owner, g} {
		if err := waitEnded(t, s, time.Second); !errors.Is(err, client.ErrEnded) || !strings.Contains(err.Error(), "administrator") {
			t.Errorf("a participant of the session killed on c: %v", err)
		}
	}
	t.Logf("kill on c: the participants on a and b were out %v later", time.Since(start).Round(time.Millisecond))
	return r.join("a")
}

// clusterFailures: kill -9 of c, then of b, the session's home.
func clusterFailures(t *testing.T, r *clusterRun, owner *client.Session, profile int64) {
	_, u := r.link(owner, profile)
	g := r.guest(u, "c")
	d := startDriver(t)
	page := func(cmd string, args map[string]any) map[string]any {
		m := map[string]any{"cmd": cmd, "page": "guest", "timeout": 30000}
		for k, v := range args {
			m[k] = v
		}
		return d.do(m)
	}
	if st := page("openShare", map[string]any{"url": r.onNode(u, "c"), "context": "guest", "name": "Pat"}); st["state"] != "connected" {
		t.Fatalf("the Chromium guest on c: %v", st)
	}
	r.nodes["c"].kill()
	start := time.Now()
	waitEnded(t, g, 10*time.Second)
	if len(g.Hello().Nodes) != 3 {
		t.Errorf("the guest's hello named nodes %v, want all three", g.Hello().Nodes)
	}
	// Rejoined through c, which is dead: the client tries the nodes it knows, a first (so that
	// b's failure below finds it through a), then those the hello named.
	back := r.guest(u, "c", client.WithNodes(append([]string{r.url("a")}, g.Hello().Nodes...)...))
	t.Logf("kill -9 of c: its Go guest was back on the desktop through another node %v later", time.Since(start).Round(time.Millisecond))
	page("waitState", map[string]any{"state": "disconnected"})
	page("waitState", map[string]any{"state": "connected"})
	frames, _ := page("state", nil)["frames"].(float64)
	page("waitFrames", map[string]any{"min": frames + 3})
	t.Logf("kill -9 of c: the Chromium guest reconnected through another node by itself %v later", time.Since(start).Round(time.Millisecond))
	if owner.Err() != nil {
		t.Fatalf("the owner on a lost its session when c died: %v", owner.Err())
	}

	sid := owner.Hello().Session.ID
	r.nodes["b"].kill()
	start = time.Now()
	for _, s := range []*client.Session{owner, back} {
		if err := waitEnded(t, s, 5*time.Second); !errors.Is(err, client.ErrEnded) || !strings.Contains(err.Error(), "server node") {
			t.Errorf("a participant on a, when b died: %v, want the session ended with its node", err)
		}
	}
	t.Logf("kill -9 of b: the participants on a were told %v later", time.Since(start).Round(time.Millisecond))
	// The page reconnected to a or b when c died: through a it is told the node failed;
	// straight to b it finds, reconnecting, that its link died with the session.
	page("waitState", map[string]any{"state": "ended"})
	text := fmt.Sprint(page("stateText", nil)["text"])
	if !strings.Contains(text, "server node") && !strings.Contains(text, "invalid or has expired") {
		t.Errorf("the Chromium guest when b died: %q, want the session ended with its node, or its link dead", text)
	}
	t.Logf("kill -9 of b: the Chromium guest's page ended %v later: %q", time.Since(start).Round(time.Millisecond), text)
	if _, err := client.JoinShare(r.ctx, r.onNode(u, "a"), r.opts...); !errors.Is(err, client.ErrHTTP) || !strings.Contains(err.Error(), "invalid or has expired") {
		t.Errorf("a link of the session b ran: %v, want invalid", err)
	}
	again := r.join("a")
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
	apiCall(r.ctx, t, http.MethodGet, r.url("a")+"/api/history", r.cookie, nil, &hist)
	found := false
	for _, h := range hist.Sessions {
		if h.ID == sid {
			found = true
			if h.EndReason != "server node failed" {
				t.Errorf("history: the session b ran ended for %q, want server node failed", h.EndReason)
			}
		}
	}
	if !found {
		t.Errorf("history has no session %s", sid)
	}
}
