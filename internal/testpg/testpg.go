// Package testpg runs a real PostgreSQL server for tests: Debian's postgresql package,
// initialised in a temporary directory (as the postgres user when the tests run as root),
// listening on a free loopback port, with a fresh database for each test that asks.
package testpg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// startTimeout bounds initdb and the server's start.
const startTimeout = 60 * time.Second

// Server is a PostgreSQL server of the tests'.
type Server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	n    atomic.Int64
}

// binDir returns the newest installed PostgreSQL's bin directory.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("testpg: no PostgreSQL under /usr/lib/postgresql (Debian's postgresql package; make deps installs it)")
}

// Start initialises and starts a server; Stop ends it and removes its files.
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "peerdesk-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	cred, err := credential(dir)
	if err != nil {
		s.Stop()
		return nil, err
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "peerdesk", "--auth=trust",
		"-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("testpg: initdb: %v: %s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		s.Stop()
		return nil, err
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(s.port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	log, _ := os.Create(filepath.Join(dir, "postgres.log"))
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("testpg: start postgres: %w", err)
	}
	for s.exec(ctx, "SELECT 1") != nil {
		select {
		case <-ctx.Done():
			out, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			s.Stop()
			return nil, fmt.Errorf("testpg: postgres did not start within %v: %s", startTimeout, out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s, nil
}

// credential returns the user the server runs as: this process's, or postgres when that is
// root (initdb refuses root), who is then given dir.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("testpg: running as root needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// url is the address of database name.
func (s *Server) url(name string) string {
	return fmt.Sprintf("postgres://peerdesk@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// exec runs one statement in the postgres database, on a connection of its own (closed after:
// tests that check for leaked goroutines see none of it).
func (s *Server) exec(ctx context.Context, stmt string) error {
	db, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// NewDatabase creates an empty database and returns its postgres:// URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	url, err := s.CreateDatabase(fmt.Sprintf("test_%d", s.n.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// CreateDatabase creates the empty database name (letters, digits, '_') and returns its
// postgres:// URL.
func (s *Server) CreateDatabase(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("testpg: create database: %w", err)
	}
	return s.url(name), nil
}

// Stop stops the server (fast shutdown) and removes its files.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown: no waiting for clients
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	_ = os.RemoveAll(s.dir)
}

// The server shared by one test binary's tests.
var (
	shared     *Server
	sharedOnce sync.Once
	sharedErr  error
)

// SharedDatabase returns a fresh database on the test binary's shared server, started by the
// first caller; the binary's TestMain calls StopShared.
func SharedDatabase(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = Start() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared.NewDatabase(t)
}

// StopShared stops the shared server, if one was started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}
