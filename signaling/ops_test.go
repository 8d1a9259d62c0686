package signaling_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
)

// readiness decodes /readyz.
func (e *env) readiness() (int, map[string]any) {
	e.t.Helper()
	resp, body := e.do(http.MethodGet, "/readyz", nil, "")
	var r map[string]any
	if err := json.Unmarshal(body, &r); err != nil {
		e.t.Fatalf("readyz %q: %v", body, err)
	}
	return resp.StatusCode, r
}

// TestDrainAndReadiness: /healthz always answers; /readyz is ready until the server drains or
// its database fails. Draining tells the peers of live sessions, keeps them on, and refuses
// new peer and agent sockets with 503 and Retry-After.
func TestDrainAndReadiness(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	owner := e.user("owner", false)
	conn, token := e.connection("Desk", owner)
	if resp, _ := e.do(http.MethodGet, "/healthz", nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	if st, r := e.readiness(); st != http.StatusOK || r["ready"] != true || r["database"] != "ok" || r["bus"] != "off" {
		t.Fatalf("readyz: %d %v", st, r)
	}
	cookie := e.login("owner")
	p := e.peer(cookie, conn.ID, proto.Identity{Name: "owner", Role: proto.RoleOwner}, proto.StateHostUnavailable)

	e.srv.Drain("going away")
	if m := expect(t, p, proto.TypeDraining); m.Message != "going away" {
		t.Errorf("draining message %+v", m)
	}
	if st, r := e.readiness(); st != http.StatusServiceUnavailable || r["draining"] != true || r["ready"] != false {
		t.Errorf("readyz while draining: %d %v", st, r)
	}
	if _, resp, err := e.dialPeer(cookie, conn.ID, e.ts.URL); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a new peer while draining: %v (%v)", err, status(resp))
	}
	if _, resp, err := e.dialAgent(token); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new agent while draining: %v (%v)", err, status(resp))
	}
	if n := e.srv.LiveSessions(); n != 1 {
		t.Errorf("%d live sessions while draining, want the one going on", n)
	}
	if st := e.srv.Stats(); st.DrainRefused != 2 {
		t.Errorf("DrainRefused %d, want 2", st.DrainRefused)
	}
	_ = e.st.Close()
	if st, r := e.readiness(); st != http.StatusServiceUnavailable || r["database"] != "unavailable" {
		t.Errorf("readyz with the database closed: %d %v", st, r)
	}
}

// gather returns the value of each metric of c, by name and label values ("name" or
// "name{v}").
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetValue() + "}"
			}
			out[key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// TestMetrics: the server's collector counts live sessions, peers, agents, joins, link misses
// and throttles as they happen.
func TestMetrics(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	owner := e.user("owner", false)
	conn, token := e.connection("Desk", owner)
	c := e.srv.Collector()
	if m := gather(t, c); m["peerdesk_live_sessions"] != 0 || m["peerdesk_joins_total"] != 0 {
		t.Fatalf("before anything: %v", m)
	}
	e.agent(token, conn)
	cookie := e.login("owner")
	e.peer(cookie, conn.ID, proto.Identity{Name: "owner", Role: proto.RoleOwner}, proto.StateHostAvailable)
	e.do(http.MethodPost, "/api/share", nil, `{"key":"no-such-key"}`)
	m := gather(t, c)
	for name, want := range map[string]float64{"peerdesk_live_sessions": 1, "peerdesk_peers": 1, "peerdesk_agents": 1,
		"peerdesk_joins_total": 1, "peerdesk_link_misses_total": 1, "peerdesk_throttled_total{share}": 0, "peerdesk_recordings_active": 0} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}
