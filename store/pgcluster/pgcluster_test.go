package pgcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store/pgcluster"
	"github.com/hepd/hepd/store/pgtest"
)

func start(t *testing.T, o pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func query(t *testing.T, dsn, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestStartConnectVersion(t *testing.T) {
	c := start(t, pgcluster.Options{Dir: pgtest.TempDir(t), Throwaway: true, Settings: map[string]string{"work_mem": "'7MB'"}})
	if !strings.Contains(c.DSN(), "/homer_data?") || !strings.HasPrefix(c.DSN(), "postgres://postgres@127.0.0.1:") {
		t.Errorf("DSN = %s, want postgres://postgres@127.0.0.1:<port>/homer_data?sslmode=disable", c.DSN())
	}
	if v := query(t, c.DSN(), "SELECT version()"); !strings.HasPrefix(v, "PostgreSQL ") {
		t.Errorf("version() = %q", v)
	}
	if db := query(t, c.DSN(), "SELECT current_database()"); db != "homer_data" {
		t.Errorf("current_database() = %q, want homer_data", db)
	}
	if a := query(t, c.DSN(), "SHOW listen_addresses"); a != "127.0.0.1" {
		t.Errorf("listen_addresses = %q, want 127.0.0.1 only", a)
	}
	if d := query(t, c.DSN(), "SHOW unix_socket_directories"); d != c.Dir() {
		t.Errorf("unix_socket_directories = %q, want the data dir %q", d, c.Dir())
	}
	if f := query(t, c.DSN(), "SHOW fsync"); f != "off" {
		t.Errorf("throwaway cluster: fsync = %q, want off", f)
	}
	if w := query(t, c.DSN(), "SHOW work_mem"); w != "7MB" {
		t.Errorf("Settings: work_mem = %q, want 7MB", w)
	}
}

func TestRestartReusesData(t *testing.T) {
	dir := pgtest.TempDir(t)
	ctx := context.Background()
	c := start(t, pgcluster.Options{Dir: dir, Database: "keep"})
	if f := query(t, c.DSN(), "SHOW fsync"); f != "on" {
		t.Errorf("persistent cluster: fsync = %q, want on", f)
	}
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(dir, "postmaster.pid")
	if _, err := os.Stat(pid); !os.IsNotExist(err) {
		t.Fatalf("after Stop, %s: %v (want gone)", pid, err)
	}

	c2 := start(t, pgcluster.Options{Dir: dir, Database: "keep"})
	if got := query(t, c2.DSN(), "SELECT v FROM marker"); got != "still here" {
		t.Errorf("after restart marker = %q", got)
	}
}

func TestTwoClustersSideBySide(t *testing.T) {
	a := start(t, pgcluster.Options{Dir: pgtest.TempDir(t), Throwaway: true})
	b := start(t, pgcluster.Options{Dir: pgtest.TempDir(t), Throwaway: true})
	if a.Port() == b.Port() {
		t.Fatalf("both clusters on port %d", a.Port())
	}
	da := query(t, a.DSN(), "SELECT current_setting('data_directory')")
	db := query(t, b.DSN(), "SELECT current_setting('data_directory')")
	if da != a.Dir() || db != b.Dir() {
		t.Errorf("data_directory a=%q b=%q, want %q and %q", da, db, a.Dir(), b.Dir())
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    pgcluster.Options
		want string
	}{
		{"no dir", pgcluster.Options{}, "Options.Dir is empty"},
		{"bad bindir", pgcluster.Options{Dir: t.TempDir(), BinDir: "/nonexistent"}, "initdb and pg_ctl not found in BinDir"},
		{"foreign files", pgcluster.Options{Dir: notEmpty}, "neither empty nor a PostgreSQL data directory"},
		{"setting that would add a line", pgcluster.Options{Dir: pgtest.TempDir(t), Throwaway: true,
			Settings: map[string]string{"work_mem": "'1MB'\nfsync = on"}}, "bad setting"},
	}
	if os.Geteuid() == 0 {
		// t.TempDir's parents are 0700 root: the message must say which.
		tests = append(tests, struct {
			name string
			o    pgcluster.Options
			want string
		}{"unreachable as root", pgcluster.Options{Dir: filepath.Join(t.TempDir(), "data")}, "cannot reach the data directory"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := pgcluster.Start(ctx, tt.o)
			if err == nil {
				_ = c.Stop(ctx)
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestStartAdoptsRunningServer(t *testing.T) {
	dir := pgtest.TempDir(t)
	a := start(t, pgcluster.Options{Dir: dir, Throwaway: true})
	// As after a crash of the process that started it: the server is still up.
	b := start(t, pgcluster.Options{Dir: dir, Throwaway: true, Database: "other"})
	if a.Port() != b.Port() {
		t.Errorf("second Start on a running directory moved from port %d to %d", a.Port(), b.Port())
	}
	if db := query(t, b.DSN(), "SELECT current_database()"); db != "other" {
		t.Errorf("current_database() = %q", db)
	}
}
