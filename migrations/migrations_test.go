package migrations_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/migrations"
	"github.com/hepd/hepd/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var homerTables = []string{
	"hep_proto_100_default", "hep_proto_1_call", "hep_proto_1_default", "hep_proto_1_registration",
	"hep_proto_35_default", "hep_proto_53_default", "hep_proto_54_default", "hep_proto_5_default",
}

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func strings(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApplyTwiceIsIdempotent(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	for i := range 2 {
		if err := migrations.Apply(ctx, conn); err != nil {
			t.Fatalf("Apply #%d: %v", i+1, err)
		}
	}
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM hepd_schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(all) || n < 2 {
		t.Errorf("hepd_schema_migrations has %d rows, want %d (one per file)", n, len(all))
	}
	got := strings(t, conn, "SELECT relname::text FROM pg_class WHERE relkind = 'p' ORDER BY 1")
	if !slices.Equal(got, homerTables) {
		t.Errorf("partitioned tables = %v, want %v", got, homerTables)
	}
}

func TestHomerColumns(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	if err := migrations.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"id bigint NO nextval",
		"sid character varying NO ",
		"create_date timestamp with time zone NO CURRENT_TIMESTAMP",
		"protocol_header jsonb NO ",
		"data_header jsonb NO ",
		"raw character varying NO ",
	}
	for _, tbl := range homerTables {
		got := strings(t, conn, `SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
			coalesce(split_part(column_default, '(', 1), '')
			FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, tbl)
		if !slices.Equal(got, want) {
			t.Errorf("%s columns:\n got %q\nwant %q", tbl, got, want)
		}
		key := strings(t, conn, "SELECT pg_get_partkeydef($1::regclass)", tbl)
		if key[0] != "RANGE (create_date)" {
			t.Errorf("%s partition key %q", tbl, key[0])
		}
		def := strings(t, conn, `SELECT count(*)::text FROM pg_partitioned_table WHERE partrelid = $1::regclass AND partdefid <> 0`, tbl)
		if def[0] != "0" {
			t.Errorf("%s has a default partition", tbl)
		}
	}
}

func TestViewsTyped(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	if err := migrations.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE hep_proto_1_registration_x PARTITION OF hep_proto_1_registration
		FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-01-02 00:00:00+00');
		INSERT INTO hep_proto_1_registration (sid, create_date, protocol_header, data_header, raw) VALUES
		('c1', '2024-01-01 10:00:00+00', '{"srcIp":"10.0.0.1","srcPort":5060,"dstIp":"10.0.0.2","dstPort":5080,"captureId":"2001"}',
		 '{"method":"REGISTER","cseq":"1 REGISTER","from_user":"alice","to_user":"alice","ruri_user":"","user_agent":"UA"}', 'REGISTER sip:x SIP/2.0')`); err != nil {
		t.Fatal(err)
	}
	var profile, method, src string
	var srcPort, dstPort int
	if err := conn.QueryRow(ctx, "SELECT profile, method, src_ip, src_port, dst_port FROM hepd_sip WHERE sid = 'c1'").
		Scan(&profile, &method, &src, &srcPort, &dstPort); err != nil {
		t.Fatal(err)
	}
	if profile != "registration" || method != "REGISTER" || src != "10.0.0.1" || srcPort != 5060 || dstPort != 5080 {
		t.Errorf("hepd_sip row = %s %s %s %d %d", profile, method, src, srcPort, dstPort)
	}
}

func TestConcurrentApplyOnFreshDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One connection per goroutine, like separate hepd nodes.
	const n = 4
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		conns[i] = c
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = migrations.Apply(ctx, conns[i])
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Apply #%d: %v", i, err)
		}
	}
	var rows int
	if err := conns[0].QueryRow(ctx, "SELECT count(*) FROM hepd_schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	all, _ := migrations.All()
	if rows != len(all) {
		t.Errorf("%d migration rows after concurrent Apply, want %d", rows, len(all))
	}
}
