// Package testproc is test support: it runs the external programs (X and VNC servers, X
// clients) that tests drive, owned by the test that starts them. Only tests import it.
package testproc

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startLimit bounds the wait for an X server to accept clients.
const startLimit = 20 * time.Second

// NeedBins skips the test if a program is missing, unless CI=true, where it fails.
func NeedBins(t testing.TB, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (CI=true): run make deps", b)
			}
			t.Skipf("%s is missing: install the Makefile's APT_PKGS (make deps) to run this test", b)
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a program owned by the test, with extra as its files from descriptor 3 on: it
// is killed and waited for at cleanup, and its output is logged if the test failed.
func Start(t testing.TB, extra []*os.File, name string, args ...string) *exec.Cmd {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), filepath.Base(name)+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = out, out, extra
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		Stop(cmd)
		_ = out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("output of %s %s:\n%s", name, strings.Join(args, " "), b)
		}
	})
	return cmd
}

// Stop ends cmd — SIGTERM, then SIGKILL after stopGrace — and waits for it; it may be called
// again.
func Stop(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	// SIGTERM first: X and VNC servers remove their shared-memory segments when they exit,
	// not when killed (4096 leaked segments exhaust the machine's: shmget fails for all).
	_ = cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(stopGrace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// stopGrace is how long Stop lets a program exit on SIGTERM before it kills it.
const stopGrace = 2 * time.Second

// StartX starts the X server bin (Xvfb, Xtigervnc) with args on a free display and returns
// the display and the server once it accepts clients; the test owns the server as with Start.
func StartX(t testing.TB, bin string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	for range 5 {
		n := 100 + rand.IntN(800)
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		display := ":" + strconv.Itoa(n)
		cmd := Start(t, []*os.File{w}, bin, append([]string{display, "-displayfd", "3"}, args...)...)
		_ = w.Close()
		_ = r.SetReadDeadline(time.Now().Add(startLimit))
		line, err := bufio.NewReader(r).ReadString('\n') // written when the server is ready
		_ = r.Close()
		if err == nil && strings.TrimSpace(line) == strconv.Itoa(n) {
			return display, cmd
		}
		t.Logf("%s on %s did not start (%v); trying another display", bin, display, err)
		Stop(cmd)
	}
	t.Fatalf("could not start %s", bin)
	return "", nil
}
