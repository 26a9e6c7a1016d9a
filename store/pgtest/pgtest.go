package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store/pgcluster"
)

// EnvDSN names the environment variable holding an existing server to test
// against instead of a throwaway cluster. Its user must be allowed to create
// databases.
const EnvDSN = "HEPD_TEST_DSN"

// shared is the per-binary cluster. It is package state on purpose: a test
// binary has one TestMain, and starting a cluster per test would cost a
// second each.
var shared struct {
	sync.Mutex
	main    bool // Main is running
	cluster *pgcluster.Cluster
	root    string
	err     error
}

// Main runs the tests and then stops the throwaway cluster, if one was
// started, and removes its files.
func Main(m *testing.M) {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	if shared.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := shared.cluster.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		cancel()
	}
	if shared.root != "" {
		os.RemoveAll(shared.root)
	}
	shared.Unlock()
	os.Exit(code)
}

// TempDir returns a fresh directory that the postgres OS user can reach even
// when the test runs as root (t.TempDir's parents are 0700 root-owned), and
// removes it at the end of the test. Use it for clusters a test starts itself.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := mkdirReachable()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "data")
}

func mkdirReachable() (string, error) {
	dir, err := os.MkdirTemp("", "hepd-pgtest-")
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	// MkdirTemp makes 0700; the server user needs to traverse it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return dir, nil
}

// DSN returns the URL of a new empty database that is dropped when the test
// ends.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		c, err := cluster()
		if err != nil {
			t.Fatal(err)
		}
		base = c.DSN()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", redact(base), err)
	}
	defer admin.Close(ctx)

	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "hepd_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// FORCE: a pool the test forgot to close must not leak the database.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

func cluster() (*pgcluster.Cluster, error) {
	shared.Lock()
	defer shared.Unlock()
	if !shared.main {
		return nil, fmt.Errorf("pgtest: call pgtest.Main from TestMain (func TestMain(m *testing.M) { pgtest.Main(m) }) so the throwaway cluster is stopped, or set %s", EnvDSN)
	}
	if shared.cluster != nil || shared.err != nil {
		return shared.cluster, shared.err
	}
	root, err := mkdirReachable()
	if err != nil {
		shared.err = err
		return nil, err
	}
	shared.root = root
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shared.cluster, shared.err = pgcluster.Start(ctx, pgcluster.Options{
		Dir:       filepath.Join(root, "data"),
		Database:  "postgres",
		Throwaway: true,
	})
	return shared.cluster, shared.err
}

// withDatabase replaces the database of a URL or keyword/value DSN.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("pgtest: %s: %w", EnvDSN, err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	// In keyword/value form the last setting wins.
	return dsn + " dbname=" + db, nil
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return "the test server"
}
