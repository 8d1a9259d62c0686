// Command peerdesk runs the peerdesk signaling server, the host relay agent, a Go peer, or
// all of the first two at once with a built-in demo desktop.
//
//	peerdesk demo        server + relay agent with the demo desktop (what `make run` starts)
//	peerdesk serve       the signaling server
//	peerdesk relay       a host relay agent serving a desktop to one connection
//	peerdesk join        join a session as a Go peer, save the frame as PNG, print events
//	peerdesk user add    create a user            peerdesk connection add   create a connection
//	peerdesk grant       let a user use a connection
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"peerdesk/internal/logsafe"
)

func init() {
	// The time field with milliseconds (zerolog's default is whole seconds), for the console
	// writer's 15:04:05.000.
	zerolog.TimeFieldFormat = time.RFC3339Nano
}

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "peerdesk:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "peerdesk:", err)
		os.Exit(1)
	}
}

const usage = `usage: peerdesk <command> [flags]

commands:
  demo             signaling server and a relay agent with the demo desktop, in one process
  serve            the signaling server
  relay            a host relay agent (token in PEERDESK_AGENT_TOKEN or --token-file)
  join             join a session as a Go peer (password in PEERDESK_PASSWORD or --password-file)
  user add         create a user
  connection add   create a connection and print its agent token
  connection token give a connection a new agent token (the old one stops working)
  grant            let a user use a connection

Run 'peerdesk <command> -h' for the flags of a command.`

// run dispatches a command line; it returns instead of exiting so tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: no command", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "relay":
		return cmdRelay(ctx, rest, stderr)
	case "join":
		return cmdJoin(ctx, rest, stdout, stderr)
	case "user", "connection":
		switch {
		case len(rest) > 0 && rest[0] == "add" && cmd == "user":
			return cmdUserAdd(ctx, rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "add":
			return cmdConnectionAdd(ctx, rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "token" && cmd == "connection":
			return cmdConnectionToken(ctx, rest[1:], stdout, stderr)
		case cmd == "user":
			return fmt.Errorf("%w: user needs the subcommand add", errUsage)
		}
		return fmt.Errorf("%w: connection needs the subcommand add or token", errUsage)
	case "grant":
		return cmdGrant(ctx, rest, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// parse parses flags of a subcommand, mapping flag errors to errUsage.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// newLogger returns the process logger at level: human-readable lines with millisecond times,
// in colour only on a terminal, every message and value escaped (logsafe.Escape), since many
// hold what peers sent.
func newLogger(w io.Writer, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("%w: log level %q (trace, debug, info, warn, error)", errUsage, level)
	}
	f, isFile := w.(*os.File)
	cw := zerolog.ConsoleWriter{
		Out:              w,
		NoColor:          !isFile || !isatty.IsTerminal(f.Fd()),
		TimeFormat:       "15:04:05.000",
		FormatMessage:    func(v any) string { return logsafe.Escape(fmt.Sprint(nilEmpty(v))) },
		FormatFieldValue: func(v any) string { return logsafe.Escape(fmt.Sprint(v)) },
		FormatErrFieldValue: func(v any) string {
			return logsafe.Escape(fmt.Sprint(v))
		},
	}
	return zerolog.New(cw).Level(lvl).With().Timestamp().Logger(), nil
}

// nilEmpty is v, or "" for nil (a line without a message).
func nilEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}
