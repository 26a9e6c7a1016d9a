package store

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store/pgtest"
)

// TestAsyncCommitSession: AsyncCommit turns synchronous_commit off in the
// writer sessions only.
func TestAsyncCommitSession(t *testing.T) {
	dsn := pgtest.DSN(t)
	// The test cluster runs with synchronous_commit off; this database
	// gets PostgreSQL's default back.
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Exec(ctx, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = on', current_database()); END $$")
	admin.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		async        bool
		writer, main string
	}{{false, "on", "on"}, {true, "off", "on"}} {
		s, err := Open(ctx, Config{DSN: dsn, AsyncCommit: tc.async}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			cfg  *pgx.ConnConfig
			want string
		}{{s.wrCfg, tc.writer}, {s.connCfg, tc.main}} {
			conn, err := pgx.ConnectConfig(ctx, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&got); err != nil {
				t.Fatal(err)
			}
			conn.Close(ctx)
			if got != c.want {
				t.Errorf("async=%v: synchronous_commit %s, want %s", tc.async, got, c.want)
			}
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
