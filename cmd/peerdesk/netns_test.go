//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"peerdesk/client"
	"peerdesk/relay"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
	"peerdesk/signaling/turn"
)

// The network-namespace test runs three hosts on one machine: the server (signaling and the
// embedded TURN server) in a private namespace made by `unshare --net --mount`, and the agent
// and the peer each in a namespace of their own (`ip netns`) linked to the server's by a veth
// pair. The server routes to both but does not forward, and the agent and the peer have no
// route to each other, so the session can only run through TURN. Every address lives inside
// the private namespaces: no packet of the test can leave them.
//
// `ip netns add` keeps its handles in /run/netns: the orchestrator mounts a tmpfs on /run in
// its private mount namespace (unshare --mount), so that nothing is left on the machine.
//
// The test binary plays every part: TestNetNSRelayed re-executes it under unshare as the
// orchestrator, which starts the server in its own process and re-executes the binary again
// inside the agent's and the peer's namespaces. The children talk to the orchestrator in lines
// of "netns: ..." on stdout and take commands on stdin; closing stdin stops them.
//
// Cuts: after the session runs, the peer's link goes down for each of netnsCuts and the
// session must resume within netnsResume of the link coming back, without a new join. The
// cuts longer than pion's ICE failure timeout (30 s without traffic) need an ICE restart;
// set PEERDESK_NETNS_CUTS (comma-separated durations, "" for none) to choose others.

const (
	netnsRoleEnv   = "PEERDESK_NETNS_ROLE"
	netnsURLEnv    = "PEERDESK_NETNS_URL"
	netnsTokenEnv  = "PEERDESK_NETNS_TOKEN"
	netnsConnEnv   = "PEERDESK_NETNS_CONNECTION"
	netnsCutsEnv   = "PEERDESK_NETNS_CUTS"
	netnsParentEnv = "PEERDESK_NETNS_PARENT" // the namespaces the test started in
	netnsPrefix    = "netns: "
	netnsAgentNS   = "pd-agent"
	netnsPeerNS    = "pd-peer"
	netnsServerIP  = "10.77.1.1" // the server on the agent's link; the peer reaches it by a host route
	netnsAgentIP   = "10.77.1.2"
	netnsPeerGW    = "10.77.2.1" // the server on the peer's link
	netnsPeerIP    = "10.77.2.2"
	netnsAllow     = "10.77.0.0/16" // the TURN allow-list: the test's own private subnets
	netnsResume    = 10 * time.Second
	netnsDefCuts   = "3s,30s"
	netnsChildWait = 30 * time.Second
)

// TestNetNSRelayed: agent and peer in network namespaces with no route between them, the
// server in a third routing to both: the session runs through the embedded TURN server, the
// peer's selected candidate pair is a relayed one, and it survives cuts of the peer's link.
// It needs root (ip netns, veth); outside CI it skips without.
func TestNetNSRelayed(t *testing.T) {
	cuts, err := netnsCuts()
	if err != nil {
		t.Fatal(err)
	}
	_ = runPrivateNetNS(t, "orchestrator", 60*time.Second+2*sumDurations(cuts))
}

// runPrivateNetNS re-executes the test binary as the orchestrator role in private network and
// mount namespaces (unshare), with env added, bounded by timeout, fails t unless the
// orchestrator's TestNetNSHelperProcess passed, and returns its output. It needs root, unshare,
// ip and tc; outside CI it skips without.
func runPrivateNetNS(t testing.TB, role string, timeout time.Duration, env ...string) string {
	t.Helper()
	for _, tool := range []string{"unshare", "ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOutsideCI(t, tool+" not installed (util-linux, iproute2)")
		}
	}
	if os.Geteuid() != 0 {
		skipOutsideCI(t, "network namespaces need root")
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--mount", "--", os.Args[0],
		"-test.run=^TestNetNSHelperProcess$", "-test.v", "-test.timeout="+timeout.String())
	cmd.Env = append(append(os.Environ(), netnsRoleEnv+"="+role, netnsParentEnv+"="+namespaceIDs()), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("orchestrator output:\n%s", out)
	if err != nil {
		t.Fatalf("orchestrator: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestNetNSHelperProcess") {
		t.Fatal("the orchestrator did not run the scenario")
	}
	return string(out)
}

// namespaceIDs identifies this process's network and mount namespaces ("?" for one that
// cannot be read).
func namespaceIDs() string {
	var ids []string
	for _, ns := range []string{"net", "mnt"} {
		id, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			id = ns + ":?"
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, " ")
}

// skipOutsideCI skips the test, or fails it in CI, where everything it needs must exist.
func skipOutsideCI(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// netnsCuts returns the link cuts to test: PEERDESK_NETNS_CUTS if set, else netnsDefCuts.
func netnsCuts() ([]time.Duration, error) {
	s, ok := os.LookupEnv(netnsCutsEnv)
	if !ok {
		s = netnsDefCuts
	}
	var cuts []time.Duration
	for _, v := range splitList(s) {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 2*time.Minute {
			return nil, fmt.Errorf("%s: %q is not a duration in (0, 2m]", netnsCutsEnv, v)
		}
		cuts = append(cuts, d)
	}
	return cuts, nil
}

func sumDurations(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum
}

// TestNetNSHelperProcess is not a test of its own: it is the entry point of the processes
// TestNetNSRelayed starts, and returns at once when run directly.
func TestNetNSHelperProcess(t *testing.T) {
	switch role := os.Getenv(netnsRoleEnv); role {
	case "":
	case "orchestrator":
		netnsOrchestrate(t)
	case "thin-orchestrator":
		thinOrchestrate(t)
	case "thin-peer":
		thinPeer(t)
	case "thin-bench":
		thinBenchOrchestrate(t)
	case "thin-bench-peer":
		thinBenchPeer(t)
	case "agent":
		netnsAgent(t)
	case "peer":
		netnsPeer(t)
	default:
		t.Fatalf("unknown %s %q", netnsRoleEnv, role)
	}
}

// netnsOrchestrate builds the namespaces, runs the server and drives the agent and the peer.
func netnsOrchestrate(t *testing.T) {
	cuts, err := netnsCuts()
	if err != nil {
		t.Fatal(err)
	}
	enterPrivateNetNS(t)
	netnsTopology(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := testLogger(t, false)
	f := serverFlags{listen: net.JoinHostPort(netnsServerIP, "0"), dbFlags: dbFlags{data: t.TempDir()}, adminUser: testAdmin,
		turn: turnFlags{udp: net.JoinHostPort(netnsServerIP, "0"), ttl: turn.DefaultTTL, allow: netnsAllow}}
	st, srv, token, c := startTestServer(ctx, t, &f, log)
	defer st.Close()
	defer func() {
		if err := srv.close(); err != nil {
			t.Errorf("server close: %v", err)
		}
	}()

	agent := startNetNSChild(t, netnsAgentNS, "agent", netnsURLEnv+"="+srv.url, netnsTokenEnv+"="+token)
	defer agent.stop()
	if line := agent.expect(netnsChildWait); line != "online" {
		t.Fatalf("agent: %q, want online", line)
	}
	start := time.Now()
	peer := startNetNSChild(t, netnsPeerNS, "peer", netnsURLEnv+"="+srv.url, netnsConnEnv+"="+strconv.FormatInt(int64(c.ID), 10))
	defer peer.stop()
	line := peer.expect(netnsChildWait)
	pair, ok := strings.CutPrefix(line, "joined ")
	if !ok {
		t.Fatalf("peer: %q, want joined", line)
	}
	t.Logf("peer joined through TURN in %v; selected pair %s", time.Since(start).Round(time.Millisecond), pair)
	checkRelayedPair(t, pair)
	if n := srv.turn.Allocations(); n == 0 {
		t.Fatal("the TURN server holds no allocation")
	}
	peer.click(t, 0, netnsResume)

	for i, cut := range cuts {
		netnsIP(t, "-n", netnsPeerNS, "link", "set", "eth0", "down")
		time.Sleep(cut) // the outage being tested
		netnsIP(t, "-n", netnsPeerNS, "link", "set", "eth0", "up")
		// Taking the link down dropped the peer's route to the server.
		netnsIP(t, "-n", netnsPeerNS, "route", "replace", netnsServerIP+"/32", "via", netnsPeerGW)
		back := time.Now()
		pair := peer.click(t, i+1, netnsResume+5*time.Second)
		took := time.Since(back)
		t.Logf("%v cut: session resumed %v after the link came back; selected pair %s", cut, took.Round(time.Millisecond), pair)
		if took > netnsResume {
			t.Errorf("%v cut: resumed after %v, want within %v", cut, took, netnsResume)
		}
		checkRelayedPair(t, pair)
	}
}

// enterPrivateNetNS checks that the process runs in the private namespaces runPrivateNetNS
// made, with only a loopback interface, and mounts a private /run for ip netns.
func enterPrivateNetNS(t *testing.T) {
	t.Helper()
	// Only in fresh namespaces may the test mount and add links and addresses.
	if ids := namespaceIDs(); ids == os.Getenv(netnsParentEnv) || strings.Contains(ids, "?") {
		t.Fatalf("not in private namespaces: %s", ids)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("not in a private network namespace: interfaces %v", ifs)
	}
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount a private /run: %v", err)
	}
}

// netnsTopology makes the agent's and the peer's namespaces and links them to this one.
func netnsTopology(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"netns", "add", netnsAgentNS},
		{"netns", "add", netnsPeerNS},
		{"link", "add", "to-agent", "type", "veth", "peer", "name", "eth0", "netns", netnsAgentNS},
		{"link", "add", "to-peer", "type", "veth", "peer", "name", "eth0", "netns", netnsPeerNS},
		{"addr", "add", netnsServerIP + "/24", "dev", "to-agent"},
		{"addr", "add", netnsPeerGW + "/24", "dev", "to-peer"},
		{"link", "set", "to-agent", "up"},
		{"link", "set", "to-peer", "up"},
		{"-n", netnsAgentNS, "addr", "add", netnsAgentIP + "/24", "dev", "eth0"},
		{"-n", netnsAgentNS, "link", "set", "eth0", "up"},
		{"-n", netnsAgentNS, "link", "set", "lo", "up"},
		{"-n", netnsPeerNS, "addr", "add", netnsPeerIP + "/24", "dev", "eth0"},
		{"-n", netnsPeerNS, "link", "set", "eth0", "up"},
		{"-n", netnsPeerNS, "link", "set", "lo", "up"},
		{"-n", netnsPeerNS, "route", "add", netnsServerIP + "/32", "via", netnsPeerGW},
	} {
		netnsIP(t, args...)
	}
	// The server must not forward between its links (a new namespace does not, by default).
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ns, to string }{{netnsPeerNS, netnsAgentIP}, {netnsAgentNS, netnsPeerIP}} {
		if out, err := exec.Command("ip", "-n", c.ns, "route", "get", c.to).CombinedOutput(); err == nil {
			t.Fatalf("%s has a route to %s: %s", c.ns, c.to, out)
		}
	}
}

// netnsIP runs ip with args and fails the test if it fails.
func netnsIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// checkRelayedPair fails the test unless a candidate pair as the peer prints it (local and
// remote "type address:port") has a relay candidate on either side.
func checkRelayedPair(t *testing.T, pair string) {
	t.Helper()
	if !strings.Contains(pair, webrtc.ICECandidateTypeRelay.String()+" ") {
		t.Errorf("selected pair %q has no relay candidate", pair)
	}
}

// netnsChild is a helper process in a namespace of its own.
type netnsChild struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string   // its "netns: " lines, closed at the end of its output
	done  chan struct{} // closed when its output has been read to the end
}

// startNetNSChild runs this test binary as role in namespace ns, with env added.
func startNetNSChild(t *testing.T, ns, role string, env ...string) *netnsChild {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNetNSHelperProcess$", "-test.timeout=5m")
	cmd.Env = append(append(os.Environ(), netnsRoleEnv+"="+role), env...)
	w := &lateSafeWriter{t: t}
	t.Cleanup(w.stop)
	cmd.Stderr = w
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &netnsChild{t: t, name: role, cmd: cmd, stdin: stdin, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), netnsPrefix); ok {
				c.lines <- line
			} else {
				_, _ = w.Write(append(sc.Bytes(), '\n'))
			}
		}
	}()
	return c
}

// expect returns the child's next line, failing the test after timeout or at its end.
func (c *netnsChild) expect(timeout time.Duration) string {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("%s ended", c.name)
		}
		return line
	case <-time.After(timeout):
		c.t.Fatalf("%s said nothing within %v", c.name, timeout)
	}
	return ""
}

// click has the peer paint dot i on the host and see it in its framebuffer, and returns the
// selected candidate pair it then uses.
func (c *netnsChild) click(t *testing.T, i int, timeout time.Duration) string {
	t.Helper()
	if _, err := fmt.Fprintf(c.stdin, "click %d\n", i); err != nil {
		t.Fatal(err)
	}
	line := c.expect(timeout + time.Second)
	pair, ok := strings.CutPrefix(line, "ok ")
	if !ok {
		t.Fatalf("click %d: %s", i, line)
	}
	return pair
}

// stop closes the child's stdin, which ends it, and waits for it.
func (c *netnsChild) stop() {
	_ = c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	for range c.lines { // unread lines
	}
	if err := c.cmd.Wait(); err != nil {
		c.t.Errorf("%s: %v", c.name, err)
	}
}

// netnsSay writes a line for the orchestrator.
func netnsSay(format string, args ...any) {
	fmt.Printf(netnsPrefix+format+"\n", args...)
}

// netnsEngine is the pion setup of the agent and the peer: IPv4 UDP on the namespace's veth,
// no mDNS, and relay pairs accepted without pion's 2 s wait for better ones.
func netnsEngine() *webrtc.SettingEngine {
	se := &webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetRelayAcceptanceMinWait(100 * time.Millisecond)
	return se
}

// netnsAgent serves a still demo desktop until stdin ends.
func netnsAgent(t *testing.T) {
	desk, err := demo.New(demo.Config{Width: 320, Height: 240, Still: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := relay.NewAgent(relay.AgentConfig{
		ServerURL:     os.Getenv(netnsURLEnv),
		Token:         os.Getenv(netnsTokenEnv),
		Source:        desk,
		Logger:        testLogger(t, false),
		SettingEngine: netnsEngine(),
		MinBackoff:    50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, netnsChildWait)
	err = a.WaitOnline(wctx)
	wcancel()
	if err != nil {
		cancel()
		<-done
		t.Fatalf("agent never came online: %v", err)
	}
	netnsSay("online")
	_, _ = io.Copy(io.Discard, os.Stdin)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Error(err)
	}
}

// netnsPeer joins the demo connection, then paints a dot for each "click N" line on stdin.
func netnsPeer(t *testing.T) {
	ctx := t.Context()
	url := os.Getenv(netnsURLEnv)
	conn, err := strconv.ParseInt(os.Getenv(netnsConnEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections() // the login's keep-alive connection
	hc := client.WithHTTPClient(&http.Client{Transport: tr})
	cookie, err := client.Login(ctx, url, testAdmin, testPassword, hc)
	if err != nil {
		t.Fatal(err)
	}
	jctx, cancel := context.WithTimeout(ctx, netnsChildWait)
	s, err := client.Join(jctx, url, conn, cookie, hc, client.WithSettingEngine(*netnsEngine()), client.WithLogger(testLogger(t, false)))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	netnsSay("joined %s", pairString(s.SelectedCandidatePair()))
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		i, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "click "))
		if err != nil || i < 0 || i > 7 {
			netnsSay("bad command %q", sc.Text())
			continue
		}
		if err := paintDot(ctx, s, 40+i*30, 120); err != nil {
			netnsSay("failed: %v", err)
			continue
		}
		pair, wait := selectedPair(ctx, s)
		netnsSay("ok %s (selected %v after the dot)", pairString(pair), wait.Round(time.Millisecond))
	}
}

// selectedPair returns the session's selected candidate pair, waiting up to a second for one:
// an ICE restart clears it for a moment. The client has no event for it: this polls.
func selectedPair(ctx context.Context, s *client.Session) (*webrtc.ICECandidatePair, time.Duration) {
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		p := s.SelectedCandidatePair()
		if p != nil || time.Since(start) > time.Second {
			return p, time.Since(start)
		}
		select {
		case <-ctx.Done():
			return nil, time.Since(start)
		case <-tick.C:
		}
	}
}

// paintDot presses the left button at (x, y) until the peer's framebuffer shows the dot the
// demo desktop paints there, within netnsResume. The click is repeated every 250 ms (which is
// the resolution of the resume times measured): one sent into a broken path may be lost with
// the peer connection it was sent on.
func paintDot(ctx context.Context, s *client.Session, x, y int) error {
	ctx, cancel := context.WithTimeout(ctx, netnsResume)
	defer cancel()
	painted := func(img *image.RGBA) bool { return img.RGBAAt(x+1, y+1) == demo.PaintColor }
	for {
		err := errors.Join(s.Pointer(x, y, wire.ButtonLeft), s.Pointer(x, y, 0))
		actx, acancel := context.WithTimeout(ctx, 250*time.Millisecond)
		if err == nil {
			err = s.WaitFor(actx, painted)
		} else {
			<-actx.Done()
		}
		acancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("no dot within %v: %w", netnsResume, err)
		case s.Err() != nil:
			return s.Err()
		}
	}
}

// pairString prints a candidate pair as "local TYPE ADDR:PORT remote TYPE ADDR:PORT".
func pairString(p *webrtc.ICECandidatePair) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("local %s %s:%d remote %s %s:%d", p.Local.Typ, p.Local.Address, p.Local.Port, p.Remote.Typ, p.Remote.Address, p.Remote.Port)
}
