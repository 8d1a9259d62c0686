package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"peerdesk/client"
	"peerdesk/relay/demo"
)

// scrape reads a Prometheus text exposition: each sample's value by its name and labels as
// written ("name" or `name{kind="x"}`).
func scrape(ctx context.Context, t testing.TB, url string) map[string]float64 {
	t.Helper()
	st, body, _ := download(ctx, t, url, "")
	if st != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, st)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsEndpoints: serve's /metrics (for -metrics-allow addresses only) counts the live
// session, its peer and the agent, beside the Go runtime's metrics; the agent's
// -metrics-listen counts its peer, what it encoded and sent, and the input it applied.
func TestMetricsEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}})
	p := h.join(ctx, client.WithoutImageDecoding())
	if err := p.Pointer(5, 5, 0); err != nil {
		t.Fatal(err)
	}
	waitApplied(ctx, t, h, 1)
	m := scrape(ctx, t, h.url+"/metrics")
	for name, want := range map[string]float64{"peerdesk_live_sessions": 1, "peerdesk_peers": 1, "peerdesk_agents": 1, "peerdesk_joins_total": 1} {
		if m[name] != want {
			t.Errorf("serve: %s = %v, want %v", name, m[name], want)
		}
	}
	if m["go_goroutines"] == 0 || m[`peerdesk_throttled_total{kind="login"}`] != 0 {
		t.Errorf("serve: go_goroutines %v, login throttles %v", m["go_goroutines"], m[`peerdesk_throttled_total{kind="login"}`])
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "192.0.2.7:4000"
	metricsHandler(newRegistry(), []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}).ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("metrics for an address not allowed: status %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:4000"
	req.Header.Set("X-Forwarded-For", "192.0.2.7") // a reverse proxy on the host
	metricsHandler(newRegistry(), []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}).ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("metrics through a proxy: status %d", rec.Code)
	}

	addr, err := serveMetrics(ctx, "127.0.0.1:0", newRegistry(agentCollector(h.agent)), []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, testLogger(t, false))
	if err != nil {
		t.Fatal(err)
	}
	a := scrape(ctx, t, fmt.Sprintf("http://%s/metrics", addr))
	if a["peerdesk_agent_peers"] != 1 || a["peerdesk_agent_encodes_total"] < 1 || a["peerdesk_agent_sent_bytes_total"] <= 0 ||
		a["peerdesk_agent_input_applied_total"] != 1 || a["peerdesk_agent_desktop_available"] != 1 {
		t.Errorf("agent metrics: peers %v, encodes %v, sent %v, input %v, desktop %v", a["peerdesk_agent_peers"], a["peerdesk_agent_encodes_total"],
			a["peerdesk_agent_sent_bytes_total"], a["peerdesk_agent_input_applied_total"], a["peerdesk_agent_desktop_available"])
	}
}

// TestServeDrains: on a stop signal the server refuses new peers (readyz says it drains) while
// the live session goes on, and stops draining as soon as that session ended, well before its
// deadline.
func TestServeDrains(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, ownerGrace: 200 * time.Millisecond})
	cookie := h.login(ctx)
	owner := h.join(ctx, client.WithoutImageDecoding())
	drained := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		h.srv.drain(30*time.Second, testLogger(t, false))
		drained <- time.Since(start)
	}()
	for {
		if st, _, _ := download(ctx, t, h.url+"/readyz", ""); st == http.StatusServiceUnavailable {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("readyz never said the server drains")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := client.Join(ctx, h.url, h.connID, cookie, client.WithSettingEngine(*loopbackEngine())); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a join while draining: %v, want 503", err)
	}
	if owner.Frames() == 0 || owner.Err() != nil {
		t.Fatalf("the live session did not go on: %v", owner.Err())
	}
	_ = owner.Close()
	select {
	case took := <-drained:
		t.Logf("drained %v after the stop signal", took)
	case <-ctx.Done():
		t.Fatal("the drain never ended after the last session")
	}
}
