// Command peerdesk-cluster runs a whole peerdesk cluster on this machine, to try one (make
// cluster): Debian's PostgreSQL in a temporary directory, a NATS server, three `peerdesk serve`
// nodes on 127.0.0.1:8081-8083 (each with its embedded TURN server) and a demo agent that
// knows every node. It prints the nodes' URLs and the administrator's login, and runs until
// interrupted; then everything stops and the temporary files go.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"peerdesk/internal/testpg"
)

func main() {
	bin := flag.String("bin", "bin/peerdesk", "the peerdesk binary")
	nodes := flag.Int("nodes", 3, "serve nodes (1-9), on ports 8081 and up")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *nodes); err != nil {
		fmt.Fprintln(os.Stderr, "peerdesk-cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, nodes int) error {
	if nodes < 1 || nodes > 9 {
		return errors.New("-nodes must be 1-9")
	}
	dir, err := os.MkdirTemp("", "peerdesk-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pg, err := testpg.Start()
	if err != nil {
		return err
	}
	defer pg.Stop()
	db, err := pg.CreateDatabase("peerdesk")
	if err != nil {
		return err
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: 4222, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("NATS did not start (is port 4222 taken?)")
	}
	password := rand.Text()
	env := []string{"PEERDESK_ADMIN_PASSWORD=" + password, "PEERDESK_DATABASE_URL=" + db}
	var procs processes
	defer procs.stop()
	var urls []string
	for i := 1; i <= nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		url, err := procs.start(ctx, bin, env, "peerdesk is serving on ", "serve", "-listen", fmt.Sprintf("127.0.0.1:%d", 8080+i),
			"-nats", ns.ClientURL(), "-node", name, "-data", filepath.Join(dir, name),
			"-turn-udp", fmt.Sprintf("127.0.0.1:%d", 3477+i), "-turn-tcp", "", "-drain-timeout", "5s", "-log-level", "warn")
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		urls = append(urls, url)
	}
	add := exec.CommandContext(ctx, bin, "connection", "add", "-name", "Demo desktop")
	add.Env = append(os.Environ(), env...)
	out, err := add.CombinedOutput()
	if err != nil {
		return fmt.Errorf("connection add: %v: %s", err, out)
	}
	_, token, ok := strings.Cut(string(out), "agent token: ")
	if !ok {
		return fmt.Errorf("connection add said %q", out)
	}
	token = strings.Fields(token)[0]
	if _, err := procs.start(ctx, bin, append(env, "PEERDESK_AGENT_TOKEN="+token), "", "relay", "-server", strings.Join(urls, ","),
		"-log-level", "warn"); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	fmt.Printf("peerdesk cluster: %d nodes on one PostgreSQL and NATS %s\n", nodes, ns.ClientURL())
	for i, u := range urls {
		fmt.Printf("  node-%d: %s\n", i+1, u)
	}
	fmt.Printf("admin login: admin / %s\nthe demo agent serves \"Demo desktop\" and tries every node; Ctrl-C stops it all\n", password)
	select {
	case <-ctx.Done():
	case err := <-procs.exited:
		return err
	}
	return nil
}

// processes are the cluster's child processes.
type processes struct {
	mu     sync.Mutex
	procs  []process
	exited chan error // those that ended, and why
	once   sync.Once
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
}

// start runs `bin args...` with env added, its log on stderr, and returns the URL it prints
// after ready ("" for none: it returns at once).
func (p *processes) start(ctx context.Context, bin string, env []string, ready string, args ...string) (string, error) {
	p.once.Do(func() { p.exited = make(chan error, 16) })
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.procs = append(p.procs, process{cmd, done})
	p.mu.Unlock()
	urls := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), ready); ok && ready != "" {
				urls <- strings.Fields(u)[0]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		p.exited <- fmt.Errorf("peerdesk %s ended: %v", args[0], err)
	}()
	if ready == "" {
		return "", nil
	}
	select {
	case u := <-urls:
		return u, nil
	case err := <-p.exited:
		return "", err
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(30 * time.Second):
		return "", errors.New("did not start within 30 s")
	}
}

// stop ends every process with SIGTERM (the nodes drain) and waits for them: those still
// running after 15 s are killed.
func (p *processes) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.procs {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	timeout := time.NewTimer(15 * time.Second)
	defer timeout.Stop()
	expired := false
	for _, c := range p.procs {
		if !expired {
			select {
			case <-c.done:
				continue
			case <-timeout.C:
				expired = true
			}
		}
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
