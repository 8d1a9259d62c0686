package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"peerdesk/store"
)

// dbFlags say where the database is: -database, or the SQLite file under -data.
type dbFlags struct {
	data, database string
}

func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "./data", "directory for the SQLite database (and session recordings)")
	fs.StringVar(&f.database, "database", "", "PostgreSQL database instead of SQLite: postgres://user@host:5432/db (password in $PGPASSWORD or ~/.pgpass, never here; default: $PEERDESK_DATABASE_URL)")
}

// validate refuses a -database that is not a PostgreSQL URL, or that holds a password (which
// ps would show).
func (f *dbFlags) validate() error {
	if f.database == "" {
		f.database = os.Getenv("PEERDESK_DATABASE_URL")
	}
	if f.database == "" {
		return nil
	}
	u, err := url.Parse(f.database)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("%w: -database must be a postgres:// URL", errUsage)
	}
	_, has := u.User.Password()
	has = has || u.Query().Has("password") || u.Query().Has("sslpassword")
	if has && os.Getenv("PEERDESK_DATABASE_URL") != f.database {
		return fmt.Errorf("%w: -database holds a password, which ps shows: use $PGPASSWORD, ~/.pgpass or $PEERDESK_DATABASE_URL", errUsage)
	}
	return nil
}

// dbPath is where the store is: the PostgreSQL URL, or the SQLite file under -data.
func (f *dbFlags) dbPath() string {
	if f.database != "" {
		return f.database
	}
	return filepath.Join(f.data, "peerdesk.db")
}

// open validates the flags and opens the store.
func (f *dbFlags) open(ctx context.Context) (*store.Store, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	return store.Open(ctx, f.dbPath())
}

func cmdUserAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	var db dbFlags
	db.register(fs)
	name := fs.String("name", "", "username (required)")
	admin := fs.Bool("admin", false, "make the user an administrator")
	pwdFile := fs.String("password-file", "", "file holding the password (default: $PEERDESK_PASSWORD, else generated and printed)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: -name is required", errUsage)
	}
	pw, err := secretFrom(*pwdFile, "PEERDESK_PASSWORD")
	if err != nil {
		return err
	}
	generated := pw == ""
	if generated {
		pw = rand.Text()
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, *name, pw, *admin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (id %d, admin %v)\n", u.Username, u.ID, u.Admin)
	if generated {
		fmt.Fprintf(stdout, "password: %s  (shown only once)\n", pw)
	}
	return nil
}

func cmdConnectionAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withConnectionName(ctx, "connection add", args, stderr, func(st *store.Store, name string) error {
		c, token, err := st.CreateConnection(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created connection %q (id %d)\nagent token: %s  (shown only once; give it to the relay as PEERDESK_AGENT_TOKEN)\n", c.Name, c.ID, token)
		return nil
	})
}

// cmdConnectionToken gives a connection a new agent token. A server running on the same
// database refuses the old token from the agent's next connection on (Settings or the API also
// disconnect the agent at once).
func cmdConnectionToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withConnectionName(ctx, "connection token", args, stderr, func(st *store.Store, name string) error {
		c, err := st.ConnectionByName(ctx, name)
		if err != nil {
			return fmt.Errorf("connection %q: %w", name, err)
		}
		token, err := st.RotateAgentToken(ctx, c.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new agent token of %q: %s  (shown only once; the old one no longer works)\n", c.Name, token)
		return nil
	})
}

// withConnectionName parses the -data and -name flags of a connection command and runs do on
// the opened store.
func withConnectionName(ctx context.Context, cmd string, args []string, stderr io.Writer, do func(st *store.Store, name string) error) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var db dbFlags
	db.register(fs)
	name := fs.String("name", "", "connection name (required)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: -name is required", errUsage)
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return do(st, *name)
}

func cmdGrant(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grant", flag.ContinueOnError)
	var db dbFlags
	db.register(fs)
	user := fs.String("user", "", "username (required)")
	conn := fs.String("connection", "", "connection name (required)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *user == "" || *conn == "" {
		return fmt.Errorf("%w: -user and -connection are required", errUsage)
	}
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByName(ctx, *user)
	if err != nil {
		return fmt.Errorf("user %q: %w", *user, err)
	}
	c, err := st.ConnectionByName(ctx, *conn)
	if err != nil {
		return fmt.Errorf("connection %q: %w", *conn, err)
	}
	if err := st.Grant(ctx, u.ID, c.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s may now use %q\n", u.Username, c.Name)
	return nil
}
