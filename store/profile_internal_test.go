package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store/pgtest"
)

func TestMajorVersion(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want int
	}{
		{"15.18 (Debian 15.18-0+deb12u1)", 15},
		{"13.16", 13},
		{"9.6.24", 9},
		{"17beta1", 17},
		{"", 0},
		{"devel", 0},
	} {
		if got := majorVersion(tc.v); got != tc.want {
			t.Errorf("majorVersion(%q) = %d, want %d", tc.v, got, tc.want)
		}
	}
}

// TestLeanWithoutBloom: before PostgreSQL 14 the lean profile gives the
// users hash indexes instead of bloom filters, and that set is valid DDL;
// from 14 on, and on a server that does not say, it is the bloom set. The
// homer profile does not depend on the version.
func TestLeanWithoutBloom(t *testing.T) {
	lean := &Store{cfg: &settings{}}
	lean.cfg.IndexProfile = ProfileLean
	homer := &Store{cfg: &settings{}}
	homer.cfg.IndexProfile = ProfileHomer
	for i := range tables {
		lean.cfg.indexes[i] = tables[i].lean
		homer.cfg.indexes[i] = tables[i].indexes
	}
	suffixes := func(ixs []index) string {
		var s []string
		for _, ix := range ixs {
			s = append(s, ix.suffix+" "+ix.using)
		}
		slices.Sort(s)
		return strings.Join(s, ", ")
	}
	for _, tc := range []struct {
		s     *Store
		table int
		major int
		want  string
	}{
		{lean, tCall, 13, "create_date brin, from_user hash, sid hash, to_user hash"},
		{lean, tCall, 10, "create_date brin, from_user hash, sid hash, to_user hash"},
		{lean, tCall, 14, "create_date brin, sid hash"},
		{lean, tCall, 0, "create_date brin, sid hash"},
		{lean, tableIndex("hep_proto_54_default"), 13, "called_number hash, calling_number hash, create_date brin, sid hash"},
		{lean, tableIndex("hep_proto_5_default"), 13, "create_date brin, sid hash"},
		{homer, tCall, 13, suffixes(sipIndexes)},
	} {
		if got := suffixes(tc.s.partitionIndexes(tc.table, tc.major)); got != tc.want {
			t.Errorf("%s, %s, PostgreSQL %d: %s, want %s", tc.s.cfg.IndexProfile, tables[tc.table].name, tc.major, got, tc.want)
		}
	}

	// The set for older servers is valid DDL (here on a newer one), on the
	// parent tables Open creates.
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s, err := Open(ctx, Config{DSN: dsn, IndexProfile: ProfileLean}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var b strings.Builder
	from := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range tables {
		partitionDDL(&b, &tables[i], tables[i].leanNoBloom, from, from.Add(time.Hour))
	}
	if _, err := conn.Exec(ctx, b.String()); err != nil {
		t.Fatalf("%v in:\n%s", err, b.String())
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class i JOIN pg_am a ON a.oid = i.relam
		WHERE i.relkind = 'i' AND i.relname LIKE '%\_20010101\_0000\_%' AND a.amname = 'hash'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := 8 + 3*2 + 2; n != want { // sid everywhere, the users of the SIP tables and ISUP's numbers
		t.Errorf("%d hash indexes on the 2001 partitions, want %d", n, want)
	}
}
