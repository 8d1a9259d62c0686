//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// guacClient is the least Guacamole protocol client that watches a guacd VNC connection as a
// browser would, for the benchmarks that put peerdesk beside Apache Guacamole: it completes the
// handshake, answers every sync at once (guacd paces each viewer by these answers), and counts
// the syncs and how old each was when it arrived (guacd stamps them with CLOCK_MONOTONIC in
// milliseconds, the same clock on both ends here). It decodes no image.
type guacClient struct {
	conn net.Conn
	r    *bufio.Reader

	bytes atomic.Int64 // read so far

	mu     sync.Mutex
	syncs  int
	delays []time.Duration
	err    error
}

// dialGuacd connects to guacd at addr and joins a VNC connection to vncHost:vncPort of size
// w×h.
func dialGuacd(ctx context.Context, addr, vncHost, vncPort string, w, h int) (*guacClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	g := &guacClient{conn: conn, r: bufio.NewReaderSize(conn, 1<<16)}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := g.handshake(vncHost, vncPort, w, h); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("guacd handshake: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	go g.run()
	return g, nil
}

func (g *guacClient) handshake(vncHost, vncPort string, w, h int) error {
	if err := g.send("select", "vnc"); err != nil {
		return err
	}
	args, err := g.read()
	if err != nil {
		return err
	}
	if len(args) == 0 || args[0] != "args" {
		return fmt.Errorf("want args, got %q", args)
	}
	for _, m := range [][]string{
		{"size", strconv.Itoa(w), strconv.Itoa(h), "96"},
		{"audio"}, {"video"},
		{"image", "image/png", "image/jpeg"},
	} {
		if err := g.send(m[0], m[1:]...); err != nil {
			return err
		}
	}
	values := make([]string, len(args)-1)
	for i, name := range args[1:] {
		switch {
		case strings.HasPrefix(name, "VERSION_"):
			values[i] = name
		case name == "hostname":
			values[i] = vncHost
		case name == "port":
			values[i] = vncPort
		}
	}
	if err := g.send("connect", values...); err != nil {
		return err
	}
	for {
		m, err := g.read()
		if err != nil {
			return err
		}
		switch m[0] {
		case "ready":
			return nil
		case "error":
			return fmt.Errorf("guacd: %q", m)
		}
	}
}

// run reads instructions until the connection ends, answering syncs.
func (g *guacClient) run() {
	for {
		m, err := g.read()
		if err != nil {
			g.mu.Lock()
			g.err = err
			g.mu.Unlock()
			return
		}
		if m[0] != "sync" || len(m) < 2 {
			continue
		}
		ts, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		delay := time.Duration(monotonicMillis()-ts) * time.Millisecond
		if err := g.send("sync", m[1]); err != nil {
			continue
		}
		g.mu.Lock()
		g.syncs++
		g.delays = append(g.delays, delay)
		g.mu.Unlock()
	}
}

// stats returns the syncs so far and their delays, and the bytes read.
func (g *guacClient) stats() (syncs int, delays []time.Duration, bytes int64, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.syncs, append([]time.Duration(nil), g.delays...), g.bytes.Load(), g.err
}

func (g *guacClient) close() { _ = g.conn.Close() }

// monotonicMillis is guacd's timestamp clock: CLOCK_MONOTONIC in milliseconds.
func monotonicMillis() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Sec*1000 + ts.Nsec/1e6
}

// send writes one instruction: each element as LENGTH.VALUE (the length in characters),
// separated by commas, ended by a semicolon.
func (g *guacClient) send(opcode string, args ...string) error {
	var b strings.Builder
	for i, e := range append([]string{opcode}, args...) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d.%s", utf8.RuneCountInString(e), e)
	}
	b.WriteByte(';')
	_, err := g.conn.Write([]byte(b.String()))
	return err
}

// read reads one instruction's elements.
func (g *guacClient) read() ([]string, error) {
	var elems []string
	for {
		lenText, err := g.r.ReadString('.')
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(strings.TrimSuffix(lenText, "."))
		if err != nil || n < 0 || n > 16<<20 {
			return nil, fmt.Errorf("bad element length %q", lenText)
		}
		var b strings.Builder
		for range n {
			r, size, err := g.r.ReadRune()
			if err != nil {
				return nil, err
			}
			g.bytes.Add(int64(size))
			b.WriteRune(r)
		}
		elems = append(elems, b.String())
		sep, err := g.r.ReadByte()
		if err != nil {
			return nil, err
		}
		g.bytes.Add(int64(len(lenText)) + 1)
		switch sep {
		case ',':
		case ';':
			return elems, nil
		default:
			return nil, errors.New("bad separator")
		}
	}
}
