package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options configures Start.
type Options struct {
	// Dir is the data directory. It is created and initialised with initdb
	// if it does not exist or is empty, and reused if it already holds a
	// cluster (PG_VERSION present). Required.
	Dir string
	// Port is the TCP port on 127.0.0.1. 0 picks a free port at every start,
	// so a persistent cluster may move between runs; use DSN() each time.
	Port int
	// BinDir holds initdb and pg_ctl. Empty: look them up in PATH, then in
	// /usr/lib/postgresql/*/bin (highest version first).
	BinDir string
	// Database is created if missing. Default "homer_data".
	Database string
	// Throwaway trades durability for speed (fsync, synchronous_commit and
	// full_page_writes off). Only for test clusters that are deleted
	// afterwards: a crash can corrupt such a cluster.
	Throwaway bool
	// Settings are more postgresql.conf parameters, name to value as the
	// file spells it (quotes included where needed), e.g. shared_buffers:
	// "1GB". They are written after hepd's own and so override them.
	Settings map[string]string
	// Log receives start/stop messages. Nil: discarded.
	Log *slog.Logger
}

// Cluster is a running local PostgreSQL server.
type Cluster struct {
	dir   string
	bin   string
	port  int
	db    string
	owner *owner // nil when not running as root
	log   *slog.Logger
}

// owner is the OS user the server runs as when hepd runs as root.
type owner struct {
	uid, gid uint32
	groups   []uint32
}

// superuser is the bootstrap role initdb creates; trust auth makes it
// reachable without a password.
const superuser = "postgres"

// settingsFile is rewritten at every start and included from
// postgresql.conf, so a moved data directory or a new port takes effect.
const settingsFile = "hepd.conf"

// Start initialises (if needed) and starts the cluster in o.Dir, waits until
// it accepts connections and creates o.Database. A server still running in
// o.Dir from an earlier run is adopted on its port (restarted if o.Port asks
// for another one).
func Start(ctx context.Context, o Options) (*Cluster, error) {
	if o.Dir == "" {
		return nil, errors.New("pgcluster: Options.Dir is empty: set the data directory")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{dir: dir, port: o.Port, db: o.Database, log: o.Log}
	if c.db == "" {
		c.db = "homer_data"
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.bin, err = findBinDir(o.BinDir); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if c.owner, err = lookupOwner(superuser); err != nil {
			return nil, err
		}
	}
	if err := c.prepareDir(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx, o.Throwaway); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}

	// A server left running in this directory (hepd killed, the server in
	// its own process group survived) is adopted rather than fought with.
	if port, ok := c.running(ctx); ok {
		if o.Port == 0 || o.Port == port {
			c.port = port
			if err := c.createDatabase(ctx); err != nil {
				return nil, err
			}
			c.log.Info("postgres already running, adopted", "dir", c.dir, "port", c.port)
			return c, nil
		}
		if err := c.Stop(ctx); err != nil {
			return nil, err
		}
	}

	// A port picked here may be taken by someone else before the server
	// binds it; pick again a few times rather than fail.
	tries := 1
	if o.Port == 0 {
		tries = 3
	}
	for i := range tries {
		if o.Port == 0 {
			if c.port, err = freePort(); err != nil {
				return nil, err
			}
		}
		if err = c.writeSettings(o.Throwaway, o.Settings); err != nil {
			return nil, err
		}
		if err = c.start(ctx); err == nil {
			break
		}
		if i+1 < tries {
			c.log.Warn("postgres did not start, retrying on another port", "port", c.port, "err", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := c.createDatabase(ctx); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	c.log.Info("postgres running", "dir", c.dir, "port", c.port, "database", c.db)
	return c, nil
}

// DSN returns a URL for the cluster's database, e.g.
// postgres://postgres@127.0.0.1:54321/homer_data?sslmode=disable.
func (c *Cluster) DSN() string { return c.DSNFor(c.db) }

// DSNFor returns a URL for another database of the same cluster.
func (c *Cluster) DSNFor(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Dir returns the data directory.
func (c *Cluster) Dir() string { return c.dir }

// Port returns the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down with "pg_ctl stop -m fast": open transactions
// are rolled back, sessions are closed, the data stays.
func (c *Cluster) Stop(ctx context.Context) error {
	out, err := c.run(ctx, "pg_ctl", "stop", "-D", c.dir, "-m", "fast", "-w", "-t", "60")
	if err != nil {
		return fmt.Errorf("pgcluster: pg_ctl stop in %s: %w\n%s", c.dir, err, out)
	}
	c.log.Info("postgres stopped", "dir", c.dir)
	return nil
}

func (c *Cluster) prepareDir() error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: create data directory: %w", err)
	}
	fi, err := os.Stat(c.dir)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("pgcluster: %s is not a directory", c.dir)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		ents, err := os.ReadDir(c.dir)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if len(ents) > 0 {
			return fmt.Errorf("pgcluster: %s is neither empty nor a PostgreSQL data directory (no PG_VERSION): choose another directory", c.dir)
		}
	}
	if c.owner == nil {
		return nil
	}
	// PostgreSQL insists on owning its data directory with mode 0700 or 0750.
	if err := os.Chown(c.dir, int(c.owner.uid), int(c.owner.gid)); err != nil {
		return fmt.Errorf("pgcluster: chown %s to %s: %w", c.dir, superuser, err)
	}
	if err := os.Chmod(c.dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return c.owner.checkTraverse(filepath.Dir(c.dir))
}

// checkTraverse reports the first directory from / down to dir that the owner
// cannot search, because the server would fail on it with a less helpful
// "could not change directory".
func (o *owner) checkTraverse(dir string) error {
	var chain []string
	for d := dir; ; d = filepath.Dir(d) {
		chain = append(chain, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	slices.Reverse(chain)
	for _, d := range chain {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		m := fi.Mode().Perm()
		switch {
		case st.Uid == o.uid && m&0o100 != 0,
			(st.Gid == o.gid || slices.Contains(o.groups, st.Gid)) && m&0o010 != 0,
			m&0o001 != 0:
			continue
		}
		return fmt.Errorf("pgcluster: the %s user cannot reach the data directory: %s is mode %04o owned by uid %d; "+
			"chmod o+x %s or put the data directory elsewhere (PostgreSQL will not run as root)", superuser, d, m, st.Uid, d)
	}
	return nil
}

func (c *Cluster) initdb(ctx context.Context, throwaway bool) error {
	args := []string{"-D", c.dir, "-U", superuser, "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if throwaway {
		args = append(args, "--no-sync")
	}
	out, err := c.run(ctx, "initdb", args...)
	if err != nil {
		return fmt.Errorf("pgcluster: initdb %s: %w\n%s", c.dir, err, out)
	}
	f, err := os.OpenFile(filepath.Join(c.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# added by hepd: settings rewritten at every start\ninclude_if_exists = '%s'\n", settingsFile)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	c.log.Info("postgres cluster initialised", "dir", c.dir)
	return nil
}

func (c *Cluster) writeSettings(throwaway bool, extra map[string]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\nport = %d\n", c.port)
	fmt.Fprintf(&b, "unix_socket_directories = '%s'\n", strings.ReplaceAll(c.dir, "'", "''"))
	b.WriteString("max_connections = 200\nlogging_collector = off\ntimezone = 'UTC'\nlog_timezone = 'UTC'\n")
	if throwaway {
		b.WriteString("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if k == "" || strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789_.") != "" || strings.ContainsAny(extra[k], "\r\n") {
			return fmt.Errorf("pgcluster: bad setting %q = %q", k, extra[k])
		}
		fmt.Fprintf(&b, "%s = %s\n", k, extra[k])
	}
	path := filepath.Join(c.dir, settingsFile)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.owner != nil {
		if err := os.Chown(path, int(c.owner.uid), int(c.owner.gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	return nil
}

func (c *Cluster) logFile() string { return filepath.Join(c.dir, "postgres.log") }

func (c *Cluster) start(ctx context.Context) error {
	out, err := c.run(ctx, "pg_ctl", "start", "-D", c.dir, "-l", c.logFile(), "-w", "-t", "60")
	if err != nil {
		return fmt.Errorf("pgcluster: pg_ctl start in %s on port %d: %w\n%s\nlast lines of %s:\n%s",
			c.dir, c.port, err, out, c.logFile(), tail(c.logFile(), 2048))
	}
	return nil
}

// running reports whether a server runs in the data directory, and its port
// (line 4 of postmaster.pid).
func (c *Cluster) running(ctx context.Context) (int, bool) {
	pid, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	if _, err := c.run(ctx, "pg_ctl", "status", "-D", c.dir); err != nil {
		return 0, false // exit status 3: not running (a stale pid file)
	}
	lines := strings.Split(string(pid), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	return port, err == nil
}

func (c *Cluster) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.DSNFor("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", c.db).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{c.db}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: someone else won
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgcluster: create database %s: %w", c.db, err)
	}
	return nil
}

// run runs one of the server binaries, as the postgres user when root.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: c.owner.uid, Gid: c.owner.gid, Groups: c.owner.groups}}
		cmd.Env = append(cmd.Env, "HOME="+c.dir, "USER="+superuser)
	}
	// Own process group: a Ctrl-C meant for hepd must not reach the server
	// before hepd has flushed its batches into it.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func lookupOwner(name string) (*owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root, and PostgreSQL refuses to run as root, but there is no %q user to run it as: "+
			"install postgresql (apt-get install postgresql) or run hepd as an ordinary user: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgcluster: user %s: %w", name, err)
	}
	o := &owner{uid: uint32(uid), gid: uint32(gid)}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			o.groups = append(o.groups, uint32(n))
		}
	}
	return o, nil
}

// findBinDir returns the directory holding initdb and pg_ctl.
func findBinDir(dir string) (string, error) {
	has := func(d string) bool {
		for _, n := range []string{"initdb", "pg_ctl"} {
			if fi, err := os.Stat(filepath.Join(d, n)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("pgcluster: initdb and pg_ctl not found in BinDir %s: point it at the PostgreSQL server binaries (e.g. /usr/lib/postgresql/15/bin)", dir)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		// Resolve symlinks so pg_ctl and postgres come from the same version.
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if d := filepath.Dir(p); has(d) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", errors.New("pgcluster: initdb not found in PATH or /usr/lib/postgresql/*/bin: " +
		"install postgresql (apt-get install postgresql) or set the directory of initdb and pg_ctl as BinDir")
}

// versionOf returns the major version in /usr/lib/postgresql/<v>/bin, 0 if none.
func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns at most n bytes from the end of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
