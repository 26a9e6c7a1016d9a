package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed *.sql
var files embed.FS

// DB is what Apply needs; *pgx.Conn and *pgxpool.Pool both have it.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migration is one embedded SQL file.
type Migration struct {
	Version int    // from the NNNN_ prefix
	Name    string // file name
	SQL     string
}

// lockKey is the advisory lock taken by every migration transaction:
// the bytes "hepdmigr" read as a big-endian int64.
const lockKey int64 = 0x686570646d696772

// All returns the embedded migrations in version order.
func All() ([]Migration, error) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, n := range names {
		prefix, _, ok := strings.Cut(n, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrations: %s: name must start with a positive version number and an underscore (0001_name.sql)", n)
		}
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: n, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations: %s and %s have the same version", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// Apply applies every embedded migration not yet recorded in
// hepd_schema_migrations, in version order, each in its own transaction.
// It is safe to call concurrently from several processes.
func Apply(ctx context.Context, db DB) error {
	ms, err := All()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := applyOne(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(ctx context.Context, db DB, m Migration) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %s: %w", m.Name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreClosed(tx.Rollback(context.WithoutCancel(ctx))))
		}
	}()
	// The lock is held until commit, so a second node waits here and then
	// sees the version recorded by the first. The bookkeeping table is
	// created under the lock too: concurrent CREATE TABLE IF NOT EXISTS can
	// fail on the catalog's unique index.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migrations: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS hepd_schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrations: create hepd_schema_migrations: %w", err)
	}
	var done bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM hepd_schema_migrations WHERE version = $1)", m.Version).Scan(&done); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if done {
		return tx.Commit(ctx)
	}
	// No arguments: pgx sends it as a simple query, so a file may hold
	// several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrations: apply %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO hepd_schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
		return fmt.Errorf("migrations: record %s: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrations: commit %s: %w", m.Name, err)
	}
	return nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}
