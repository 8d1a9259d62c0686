package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"peerdesk/client"
	"peerdesk/signaling/proto"
)

// BenchmarkCluster: three nodes on one PostgreSQL and NATS, the agent of a 1080p demo desktop
// on node b. Join → first full frame through b (the session's home) and through a (forwarded
// over NATS); a signaling round trip (a refused admit) straight to the home and through a
// pipe; 1,000 idle sessions over the three nodes, each with a second socket through another
// node (memory per session and pipe per node); and kill -9 of the home: until the participants
// on the other nodes are told, and until a new session has the desktop again.
func BenchmarkCluster(b *testing.B) {
	for range b.N {
		c := startCluster(b, []string{"-max-peers-per-user", "10000", "-trusted-proxies", "127.0.0.1"}, "a", "b", "c")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		r := c.desktop(ctx, "Bench desktop", "-demo-size", fmt.Sprintf("%dx%d", benchW, benchH))
		for _, via := range []string{"b", "a"} {
			var ds []time.Duration
			for range 30 {
				start := time.Now()
				s, err := client.Join(ctx, c.url(via), r.conn, r.cookie, r.opts...)
				if err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
				_ = s.Close()
			}
			b.ReportMetric(ms(percentile(ds, 50)), "join-via-"+map[string]string{"b": "home", "a": "other"}[via]+"-p50-ms")
			b.ReportMetric(ms(percentile(ds, 95)), "join-via-"+map[string]string{"b": "home", "a": "other"}[via]+"-p95-ms")
		}
		for _, via := range []string{"b", "a"} {
			ds := benchSignalingRTT(b, c.url(via), r.conn, r.cookie, 300)
			kind := map[string]string{"b": "home", "a": "pipe"}[via]
			b.ReportMetric(ms(percentile(ds, 50)), "rtt-"+kind+"-p50-ms")
			b.ReportMetric(ms(percentile(ds, 95)), "rtt-"+kind+"-p95-ms")
		}
		benchIdleSessions(ctx, b, c, r.cookie, 1000)
		benchHomeFailure(ctx, b, r)
		cancel()
	}
}

// dialOwner opens a raw peer socket for connection id through server, from the client address
// addr (X-Forwarded-For: the nodes trust loopback), and reads its hello.
func dialOwner(b testing.TB, server string, id int64, cookie, addr string) *websocket.Conn {
	h := http.Header{"Cookie": {"peerdesk_session=" + cookie}, "X-Forwarded-For": {addr}}
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(server, "http")+"/ws/peer?connection="+strconv.FormatInt(id, 10), h)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		b.Fatalf("dial %s: %v (HTTP %d)", server, err, code)
	}
	b.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil {
		b.Fatalf("hello through %s: %v", server, err)
	}
	return ws
}

// benchSignalingRTT times n round trips of a frame the home answers at once (an admit of
// nobody: refused, not counted as bad) on a socket through server.
func benchSignalingRTT(b *testing.B, server string, id int64, cookie string, n int) []time.Duration {
	ws := dialOwner(b, server, id, cookie, "192.0.2.1")
	frame := proto.Message{Type: proto.TypeAdmit, Peer: "nobody", Allow: true}.Encode()
	var ds []time.Duration
	for len(ds) < n {
		start := time.Now()
		if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			b.Fatal(err)
		}
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if m, err := proto.Decode(data); err == nil && m.Type == proto.TypeError {
				break // states and ICE refreshes may come between
			}
		}
		ds = append(ds, time.Since(start))
	}
	_ = ws.Close()
	return ds
}

// benchIdleSessions opens n idle sessions of n connections without agents, the owner's socket
// of each on one node (its home) and a second through the next node (a pipe), and reports each
// node's resident memory per session it is home to and per pipe end it holds.
func benchIdleSessions(ctx context.Context, b *testing.B, c *testCluster, cookie string, n int) {
	nodes := []string{"a", "b", "c"}
	rss := func() map[string]int64 {
		out := map[string]int64{}
		for _, name := range nodes {
			out[name] = processRSS(b, c.nodes[name].cmd.Process.Pid)
		}
		return out
	}
	ids := make([]int64, n)
	for i := range ids {
		var conn struct {
			ID int64 `json:"id"`
		}
		if st, _ := apiCall(ctx, b, http.MethodPost, c.url("a")+"/api/connections", cookie, map[string]any{"name": fmt.Sprintf("Idle %d", i)}, &conn); st != http.StatusCreated {
			b.Fatalf("create connection %d: status %d", i, st)
		}
		ids[i] = conn.ID
	}
	before := rss()
	start := time.Now()
	for i, id := range ids {
		addr := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1) // each its own address: the join throttle is per address
		dialOwner(b, c.url(nodes[i%3]), id, cookie, addr)
		dialOwner(b, c.url(nodes[(i+1)%3]), id, cookie, addr)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(n), "idle-session-open-ms")
	after := rss()
	var live []struct {
		ID string `json:"id"`
	}
	if apiCall(ctx, b, http.MethodGet, c.url("c")+"/api/sessions", cookie, nil, &live); len(live) != n {
		b.Fatalf("Active Sessions on c lists %d sessions, want %d", len(live), n)
	}
	for _, name := range nodes {
		// Each node is home to n/3 sessions (two sockets each, one piped in) and front to n/3
		// pipes of the others'.
		b.ReportMetric(float64(after[name]-before[name])/float64(n/3)/1024, "KiB-per-session-and-pipe-node-"+name)
	}
}

// processRSS returns the resident memory of process pid in bytes.
func processRSS(b testing.TB, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// benchHomeFailure: the owner on a, the session on b; kill -9 of b.
func benchHomeFailure(ctx context.Context, b *testing.B, r *clusterRun) {
	owner := r.join("a")
	r.nodes["b"].kill()
	start := time.Now()
	select {
	case <-owner.Done():
	case <-time.After(10 * time.Second):
		b.Fatal("the owner on a was not told b failed")
	}
	b.ReportMetric(ms(time.Since(start)), "home-killed-told-ms")
	r.join("a")
	b.ReportMetric(ms(time.Since(start)), "home-killed-desktop-again-ms")
}
