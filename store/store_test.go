package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // TestPartitionLayout's child runs with TZ=Asia/Kolkata on any machine

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a store on dsn and closes it at the end of the test.
func open(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

func add(t testing.TB, s *store.Store, rows ...store.Row) {
	t.Helper()
	if err := s.Add(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
}

// waitSettled waits until n rows have been committed or rejected.
func waitSettled(t testing.TB, s *store.Store, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.Stats()
		if st.RowsCommitted+st.RowsRejected >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d rows: %+v", n, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func count(t testing.TB, c *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sipRow(table, sid string, at time.Time) store.Row {
	return store.Row{
		Table:          table,
		SID:            []byte(sid),
		CreateDate:     at,
		ProtocolHeader: []byte(`{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.10","dstIp":"192.0.2.20","srcPort":5060,"dstPort":5060,"timeSeconds":1700000000,"timeUseconds":1,"payloadType":1,"captureId":"2001","correlation_id":"` + sid + `"}`),
		DataHeader:     []byte(`{"method":"INVITE","callid":"` + sid + `","from_user":"alice","to_user":"bob"}`),
		Raw:            []byte("INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: " + sid + "\r\n\r\n"),
	}
}

func TestTablesAndUnknownTable(t *testing.T) {
	want := []string{"hep_proto_1_call", "hep_proto_1_registration", "hep_proto_1_default", "hep_proto_5_default",
		"hep_proto_35_default", "hep_proto_54_default", "hep_proto_100_default", "hep_proto_53_default"}
	if got := store.Tables(); !slices.Equal(got, want) {
		t.Errorf("Tables() = %v", got)
	}
	if !store.IsTable("hep_proto_1_call") || store.IsTable("hep_proto_2000_default") {
		t.Error("IsTable")
	}
	s := open(t, store.Config{DSN: pgtest.DSN(t)})
	err := s.Add(context.Background(), []store.Row{sipRow("hep_proto_1_call", "a", time.Now()), sipRow("hep_proto_9_nope", "b", time.Now())})
	if err == nil || !strings.Contains(err.Error(), `"hep_proto_9_nope"`) {
		t.Fatalf("Add with an unknown table: %v, want an error naming it", err)
	}
	if st := s.Stats(); st.RowsAdded != 0 || st.RowsPending != 0 {
		t.Errorf("a refused call must queue nothing: %+v", st)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  store.Config
		want string
	}{
		{"no DSN", store.Config{}, "DSN is empty"},
		{"bad SIP step", store.Config{DSN: "postgres://x/y", PartitionStep: store.PartitionSteps{SIP: "3m"}}, `PartitionStep.SIP: partition step "3m" is not allowed`},
		{"bad log step", store.Config{DSN: "postgres://x/y", PartitionStep: store.PartitionSteps{Log: "90m"}}, "PartitionStep.Log"},
		{"negative batch", store.Config{DSN: "postgres://x/y", BatchRows: -1}, "BatchRows = -1"},
		{"unknown index profile", store.Config{DSN: "postgres://x/y", IndexProfile: "fast"}, `IndexProfile "fast": want homer or lean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Open(context.Background(), tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestRowsLandExactly writes tricky values into every table and reads them
// back from the partition named after the row's time.
func TestRowsLandExactly(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, FlushInterval: 10 * time.Millisecond})
	at := time.Now().UTC().Truncate(time.Microsecond).Add(-1234567 * time.Nanosecond).Truncate(time.Microsecond)
	tricky := "quote\" backslash\\ tab\t nl\n cr\r bell\x07 esc\x1b unicode ü€😀 nbsp\u00a0 ls\u2028"
	enc, _ := json.Marshal(tricky)
	type want struct {
		table, sid, partition string
		ph, dh                string
		raw                   string
	}
	var rows []store.Row
	var wants []want
	for i, tbl := range store.Tables() {
		sid := fmt.Sprintf("sid-%d-ü\"'\\", i)
		ph := `{"srcIp":"10.0.0.1","srcPort":5060,"captureId":"node \"x\"","big":123456789012345678901234567890.5,"dup":1,"dup":2,"value":` + string(enc) + `}`
		dh := `{"from_user":` + string(enc) + `,"nested":{"a":[1,"b",null,true]},"empty":""}`
		raw := "RAW " + tricky + fmt.Sprint(i)
		rows = append(rows, store.Row{Table: tbl, SID: []byte(sid), CreateDate: at, ProtocolHeader: []byte(ph), DataHeader: []byte(dh), Raw: []byte(raw)})
		wants = append(wants, want{tbl, sid, "", ph, dh, raw})
	}
	add(t, s, rows...)
	waitSettled(t, s, uint64(len(rows)))
	if st := s.Stats(); st.RowsCommitted != uint64(len(rows)) || st.RowsRejected != 0 {
		t.Fatalf("stats %+v", st)
	}
	c := connect(t, dsn)
	ctx := context.Background()
	for _, w := range wants {
		var part, sid, raw, phText, dhText, fromUser, value, typ string
		var created time.Time
		err := c.QueryRow(ctx, `SELECT tableoid::regclass::text, sid, create_date, protocol_header::text, data_header::text, raw,
				data_header->>'from_user', protocol_header->>'value', jsonb_typeof(protocol_header) FROM `+w.table).
			Scan(&part, &sid, &created, &phText, &dhText, &raw, &fromUser, &value, &typ)
		if err != nil {
			t.Fatalf("%s: %v", w.table, err)
		}
		if sid != w.sid || raw != w.raw || !created.Equal(at) {
			t.Errorf("%s: sid %q raw %q create_date %v; want %q %q %v", w.table, sid, raw, created, w.sid, w.raw, at)
		}
		if fromUser != tricky || value != tricky {
			t.Errorf("%s: JSON string values changed:\n got %q\n     %q\nwant %q", w.table, fromUser, value, tricky)
		}
		// pgx must pass the bytes through: re-marshalling would turn a
		// []byte into a base64 string or round the big number.
		if typ != "object" || !strings.Contains(phText, `"big": 123456789012345678901234567890.5`) || !strings.Contains(phText, `"dup": 2`) {
			t.Errorf("%s: protocol_header stored as %s (%s)", w.table, phText, typ)
		}
		if !jsonEqual(t, dhText, w.dh) {
			t.Errorf("%s: data_header %s, want %s", w.table, dhText, w.dh)
		}
		step := map[string]time.Duration{"hep_proto_1_call": time.Hour, "hep_proto_1_registration": time.Hour, "hep_proto_1_default": time.Hour,
			"hep_proto_100_default": 2 * time.Hour}[w.table]
		if step == 0 {
			step = 6 * time.Hour
		}
		if wantPart := w.table + "_" + at.Truncate(step).Format("20060102_1504"); part != wantPart {
			t.Errorf("%s: row in partition %s, want %s", w.table, part, wantPart)
		}
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// TestPartitionLayout checks names, bounds and index names of
// homer-schema.md §2.3 for a known time, with the process in a zone 5:30
// off UTC and the database defaulting to New York time.
func TestPartitionLayout(t *testing.T) {
	// The process must run in a zone off UTC. Setting time.Local here would
	// race with every timer of this test binary, so the test runs again in
	// a child process started with TZ (tzdata is embedded, see the import).
	if os.Getenv("HEPD_TEST_TZ_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPartitionLayout$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "HEPD_TEST_TZ_CHILD=1", "TZ=Asia/Kolkata", pgtest.EnvDSN+"="+pgtest.DSN(t))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestPartitionLayout") {
			t.Fatalf("TestPartitionLayout in Asia/Kolkata: %v\n%s", err, out)
		}
		return
	}
	kolkata := time.Local
	if _, off := time.Now().Zone(); off != 5*3600+1800 {
		t.Fatalf("process zone %s is not Asia/Kolkata", kolkata)
	}

	dsn := pgtest.DSN(t)
	c := connect(t, dsn)
	ctx := context.Background()
	if _, err := c.Exec(ctx, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'America/New_York'); END $$"); err != nil {
		t.Fatal(err)
	}
	s := open(t, store.Config{DSN: dsn, FlushInterval: 10 * time.Millisecond, RetentionDays: -1,
		PartitionStep: store.PartitionSteps{SIP: "2h"}})
	at := time.Date(2023, 11, 14, 22, 30, 0, 0, time.UTC).In(kolkata) // 04:00 on the 15th in Kolkata
	isupAt := time.Date(2023, 11, 14, 13, 0, 0, 0, time.UTC).In(kolkata)
	r := sipRow("hep_proto_1_call", "layout", at)
	isup := store.Row{Table: "hep_proto_54_default", SID: []byte("1:2:3"), CreateDate: isupAt,
		ProtocolHeader: []byte(`{}`), DataHeader: []byte(`{"cic":3}`), Raw: []byte(`{}`)}
	add(t, s, r, isup)
	waitSettled(t, s, 2)
	if st := s.Stats(); st.RowsCommitted != 2 {
		t.Fatalf("stats %+v", st)
	}

	if _, err := c.Exec(ctx, "SET timezone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		partition, bound string
		indexes          map[string]string // suffix → expression as pg_indexes shows it
	}{
		{
			"hep_proto_1_call_20231114_2200",
			"FOR VALUES FROM ('2023-11-14 22:00:00+00') TO ('2023-11-15 00:00:00+00')",
			map[string]string{
				"create_date": "(create_date)", "sid": "(sid)",
				"srcip": "(((protocol_header ->> 'srcIp'::text)))", "dstip": "(((protocol_header ->> 'dstIp'::text)))",
				"correlation_id": "(((protocol_header ->> 'correlation_id'::text)))",
				"ruri_domain":    "(((data_header ->> 'ruri_domain'::text)))", "ruri_user": "(((data_header ->> 'ruri_user'::text)))",
				"from_user": "(((data_header ->> 'from_user'::text)))", "to_user": "(((data_header ->> 'to_user'::text)))",
				"pid_user": "(((data_header ->> 'pid_user'::text)))", "auth_user": "(((data_header ->> 'auth_user'::text)))",
				"callid": "(((data_header ->> 'callid'::text)))", "method": "(((data_header ->> 'method'::text)))",
			},
		},
		{
			"hep_proto_54_default_20231114_1200",
			"FOR VALUES FROM ('2023-11-14 12:00:00+00') TO ('2023-11-14 18:00:00+00')",
			map[string]string{
				"create_date": "(create_date)", "sid": "(sid)",
				"correlation_id": "(((protocol_header ->> 'correlation_id'::text)))",
				"called_number":  "(((data_header ->> 'called_number'::text)))", "calling_number": "(((data_header ->> 'calling_number'::text)))",
				"opc": "(((data_header ->> 'opc'::text)))", "dpc": "(((data_header ->> 'dpc'::text)))", "cic": "(((data_header ->> 'cic'::text)))",
				"msg_name": "(((data_header ->> 'msg_name'::text)))", "callid": "(((data_header ->> 'callid'::text)))",
			},
		},
	}
	for _, tt := range tests {
		var bound string
		if err := c.QueryRow(ctx, "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = $1", tt.partition).Scan(&bound); err != nil {
			t.Errorf("partition %s: %v", tt.partition, err)
			continue
		}
		if bound != tt.bound {
			t.Errorf("%s: %s, want %s", tt.partition, bound, tt.bound)
		}
		rows, _ := c.Query(ctx, "SELECT indexname::text, indexdef FROM pg_indexes WHERE tablename = $1", tt.partition)
		got := map[string]string{}
		var name, def string
		if _, err := pgx.ForEachRow(rows, []any{&name, &def}, func() error {
			_, expr, _ := strings.Cut(def, "USING btree ")
			got[name] = expr
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for suffix, expr := range tt.indexes {
			want[tt.partition+"_"+suffix] = expr
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s indexes:\n got %v\nwant %v", tt.partition, got, want)
		}
	}

	// Open made yesterday..the day after tomorrow, in UTC, for every table.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, p := range []string{
		"hep_proto_1_call_" + today.AddDate(0, 0, -1).Format("20060102") + "_0000",
		"hep_proto_1_registration_" + today.Format("20060102") + "_2200",
		"hep_proto_1_default_" + today.AddDate(0, 0, 2).Format("20060102") + "_2200",
		"hep_proto_100_default_" + today.AddDate(0, 0, 2).Format("20060102") + "_2200",
		"hep_proto_53_default_" + today.AddDate(0, 0, 2).Format("20060102") + "_1800",
		"hep_proto_5_default_" + today.Format("20060102") + "_0600",
	} {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = $1 AND relispartition", p).Scan(&n); err != nil || n != 1 {
			t.Errorf("partition %s missing after Open (%v)", p, err)
		}
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'hep_proto_1_call'::regclass`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4*12+1 { // four days of 2 h slots, plus the 2023 one
		t.Errorf("hep_proto_1_call has %d partitions, want %d", n, 4*12+1)
	}
}

// TestPartitionOnDemand: rows far in the past and future are committed.
func TestPartitionOnDemand(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, BatchRows: 100, FlushInterval: time.Hour, RetentionDays: -1})
	before := s.Stats().PartitionsCreated
	var rows []store.Row
	for i := range 100 {
		at := time.Now()
		switch i % 4 {
		case 1:
			at = time.Date(2001, 3, 4, 10, 20, 0, 0, time.UTC)
		case 2:
			at = time.Date(2090, 12, 31, 23, 59, 59, 0, time.UTC)
		}
		rows = append(rows, sipRow("hep_proto_1_call", fmt.Sprint("od-", i), at))
	}
	add(t, s, rows...) // exactly BatchRows: one batch, one COPY
	waitSettled(t, s, 100)
	st := s.Stats()
	if st.RowsCommitted != 100 || st.RowsRejected != 0 || st.Batches != 1 {
		t.Fatalf("stats %+v, want 100 rows in 1 batch", st)
	}
	if st.PartitionsCreated-before != 2 {
		t.Errorf("created %d partitions on demand, want 2", st.PartitionsCreated-before)
	}
	c := connect(t, dsn)
	for p, want := range map[string]int{"hep_proto_1_call_20010304_1000": 25, "hep_proto_1_call_20901231_2300": 25} {
		if n := count(t, c, p); n != want {
			t.Errorf("%s holds %d rows, want %d", p, n, want)
		}
	}
}

func TestRetention(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, FlushInterval: 10 * time.Millisecond, RetentionDays: 3, RetentionDaysCall: -1})
	today := time.Now().UTC().Truncate(24 * time.Hour)
	cutoff := today.AddDate(0, 0, -2) // keeps today and the 2 days before
	rows := []store.Row{
		sipRow("hep_proto_1_default", "old", today.AddDate(0, 0, -10)),
		sipRow("hep_proto_1_default", "edge-old", cutoff.Add(-30*time.Minute)),
		sipRow("hep_proto_1_default", "edge-kept", cutoff.Add(30*time.Minute)),
		sipRow("hep_proto_1_call", "call-kept", today.AddDate(0, 0, -10)),
	}
	add(t, s, rows...)
	waitSettled(t, s, uint64(len(rows)))
	if err := s.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := connect(t, dsn)
	ctx := context.Background()
	exists := func(name string) bool {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	name := func(tbl string, at time.Time) string {
		return tbl + "_" + at.Truncate(time.Hour).Format("20060102_1504")
	}
	for _, tt := range []struct {
		partition string
		kept      bool
	}{
		{name("hep_proto_1_default", today.AddDate(0, 0, -10)), false},
		{name("hep_proto_1_default", cutoff.Add(-30*time.Minute)), false},
		{name("hep_proto_1_default", cutoff.Add(30*time.Minute)), true},
		{name("hep_proto_1_default", today), true},
		{name("hep_proto_1_call", today.AddDate(0, 0, -10)), true}, // RetentionDaysCall < 0 keeps all
		{name("hep_proto_1_registration", today.AddDate(0, 0, -1)), true},
	} {
		if got := exists(tt.partition); got != tt.kept {
			t.Errorf("%s exists = %v, want %v", tt.partition, got, tt.kept)
		}
	}
	var sids []string
	rs, _ := c.Query(ctx, "SELECT sid FROM hepd_sip ORDER BY sid")
	sids, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sids, []string{"call-kept", "edge-kept"}) {
		t.Errorf("rows left %v", sids)
	}
	if st := s.Stats(); st.PartitionsDropped != 2 {
		t.Errorf("PartitionsDropped = %d, want 2", st.PartitionsDropped)
	}
	// A second round finds nothing more to do.
	if err := s.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.PartitionsDropped != 2 {
		t.Errorf("after a second round PartitionsDropped = %d, want 2", st.PartitionsDropped)
	}
}

func TestFlushBySize(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, BatchRows: 10, FlushInterval: time.Hour})
	for i := range 25 {
		add(t, s, sipRow("hep_proto_1_call", fmt.Sprint(i), time.Now()))
	}
	waitSettled(t, s, 20)
	time.Sleep(50 * time.Millisecond) // the 5 left must stay: nothing else may flush them
	st := s.Stats()
	if st.RowsCommitted != 20 || st.Batches != 2 || st.RowsPending != 5 {
		t.Errorf("stats %+v, want 20 committed in 2 batches and 5 pending", st)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, connect(t, dsn), "hep_proto_1_call"); n != 25 {
		t.Errorf("%d rows after Close, want 25", n)
	}
}

func TestFlushByInterval(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, BatchRows: 1000, FlushInterval: 50 * time.Millisecond})
	start := time.Now()
	add(t, s, sipRow("hep_proto_1_call", "a", time.Now()), sipRow("hep_proto_100_default", "b", time.Now()))
	waitSettled(t, s, 2)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("interval flush took %v", d)
	}
	if st := s.Stats(); st.Batches != 2 || st.Flushes != 2 || st.FlushLatencyMax <= 0 || st.FlushLatencySum < st.FlushLatencyMax {
		t.Errorf("stats %+v, want one batch per table and latencies", st)
	}
}

func TestCloseFlushesEverything(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := store.Open(context.Background(), store.Config{DSN: dsn, BatchRows: 700, FlushInterval: time.Hour, Writers: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tbls := store.Tables()
	const perG, goroutines = 1250, 4
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				r := sipRow(tbls[(g+i)%len(tbls)], fmt.Sprint(g, "-", i), time.Now())
				if err := s.Add(context.Background(), []store.Row{r}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := connect(t, dsn)
	total := 0
	for _, tbl := range tbls {
		total += count(t, c, tbl)
	}
	st := s.Stats()
	if total != perG*goroutines || st.RowsCommitted != perG*goroutines || st.RowsPending != 0 {
		t.Errorf("%d rows in the database, stats %+v; want %d", total, st, perG*goroutines)
	}
	if err := s.Add(context.Background(), []store.Row{sipRow(tbls[0], "late", time.Now())}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
}

// TestBadRowsIsolated: one COPY batch with rows the database refuses; only
// those are rejected.
func TestBadRowsIsolated(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, BatchRows: 50, FlushInterval: time.Hour})
	var rows []store.Row
	bad := map[int]func(*store.Row){
		3:  func(r *store.Row) { r.DataHeader = []byte(`{"from_user":"unterminated}`) },
		17: func(r *store.Row) { r.ProtocolHeader = []byte(`not json`) },
		18: func(r *store.Row) { r.Raw = []byte("bad utf-8 \xff\xfe") },
		33: func(r *store.Row) { r.Raw = []byte("nul \x00 byte") },
		49: func(r *store.Row) { r.DataHeader = nil }, // NULL into NOT NULL
	}
	for i := range 50 {
		r := sipRow("hep_proto_1_call", fmt.Sprint("row-", i), time.Now())
		if f := bad[i]; f != nil {
			r.SID = []byte(fmt.Sprint("bad-", i))
			f(&r)
		}
		rows = append(rows, r)
	}
	add(t, s, rows...)
	waitSettled(t, s, 50)
	st := s.Stats()
	if st.RowsRejected != uint64(len(bad)) || st.RowsCommitted != 50-uint64(len(bad)) {
		t.Errorf("stats %+v, want %d rejected and the rest committed", st, len(bad))
	}
	c := connect(t, dsn)
	if n := count(t, c, "hep_proto_1_call WHERE sid LIKE 'bad-%'"); n != 0 {
		t.Errorf("%d bad rows stored", n)
	}
	if n := count(t, c, "hep_proto_1_call WHERE sid LIKE 'row-%'"); n != 50-len(bad) {
		t.Errorf("%d good rows stored, want %d", n, 50-len(bad))
	}
}

// TestBackpressureWhileDatabaseDown: with the server stopped, Add accepts up
// to MaxPending rows, then blocks; after a restart every accepted row is
// committed exactly once.
func TestBackpressureWhileDatabaseDown(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewRestartable(t)
	const maxPending = 500
	s, err := store.Open(ctx, store.Config{DSN: db.DSN(), BatchRows: 100, FlushInterval: 20 * time.Millisecond,
		MaxPending: maxPending, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	chunk := func(n, base int) []store.Row {
		var rows []store.Row
		for i := range n {
			rows = append(rows, sipRow("hep_proto_1_call", fmt.Sprint("bp-", base+i), time.Now()))
		}
		return rows
	}
	accepted := 0
	add(t, s, chunk(200, 0)...)
	accepted += 200
	waitSettled(t, s, 200)

	db.Stop()
	for {
		actx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := s.Add(actx, chunk(50, accepted))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted += 50
		if accepted > 10*maxPending {
			t.Fatalf("Add never blocked; %d rows accepted with the database down", accepted)
		}
	}
	st := s.Stats()
	if st.RowsPending < maxPending || st.RowsPending >= maxPending+50 || st.RowsCommitted != 200 {
		t.Fatalf("blocked with stats %+v, want pending in [%d, %d)", st, maxPending, maxPending+50)
	}
	if st.CopyErrors == 0 && st.RowsCommitted == 200 {
		t.Log("no COPY attempt failed yet (connect errors do not count as COPY errors)")
	}

	// Restart on the same port; the blocked Add goes through.
	unblocked := make(chan error, 1)
	go func() { unblocked <- s.Add(ctx, chunk(50, accepted)) }()
	db.Start()
	if err := <-unblocked; err != nil {
		t.Fatal(err)
	}
	accepted += 50
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		t.Fatal(err)
	}
	c := connect(t, db.DSN())
	var total, distinct int
	if err := c.QueryRow(ctx, "SELECT count(*), count(DISTINCT sid) FROM hep_proto_1_call").Scan(&total, &distinct); err != nil {
		t.Fatal(err)
	}
	if total != accepted || distinct != accepted {
		t.Errorf("%d rows (%d distinct) in the database, want %d accepted rows exactly once", total, distinct, accepted)
	}
	if st := s.Stats(); st.RowsCommitted != uint64(accepted) || st.RowsLost != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestCloseGivesUp: Close with the database gone returns, counting the rows.
func TestCloseGivesUp(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewRestartable(t)
	s, err := store.Open(ctx, store.Config{DSN: db.DSN(), FlushInterval: time.Hour, RetryMax: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Stop()
	add(t, s, sipRow("hep_proto_1_call", "x", time.Now()), sipRow("hep_proto_1_call", "y", time.Now()))
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = s.Close(cctx)
	if err == nil || !strings.Contains(err.Error(), "2 rows not written") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v", err)
	}
	if st := s.Stats(); st.RowsLost != 2 || st.RowsPending != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestTwoNodes: two stores opening one database at once, writing into the
// same new slot, both succeed and share the partition.
func TestTwoNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	stores := make([]*store.Store, 2)
	errs := make([]error, 2)
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = store.Open(context.Background(), store.Config{DSN: dsn, FlushInterval: 10 * time.Millisecond, RetentionDays: -1}, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, s := range stores {
		add(t, s, sipRow("hep_proto_1_call", fmt.Sprint("node-", i), at))
	}
	for _, s := range stores {
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, connect(t, dsn), "hep_proto_1_call_20300601_1200"); n != 2 {
		t.Errorf("%d rows in the shared partition, want 2", n)
	}
}

// TestBatchesGrowBehindBacklog: while the writers are busy and sealed
// batches wait for them, a batch goes on filling past BatchRows (fewer,
// larger COPYs); at a rate the writers keep up with, each holds BatchRows.
func TestBatchesGrowBehindBacklog(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s := open(t, store.Config{DSN: dsn, BatchRows: 100, Writers: 1, FlushInterval: time.Hour})

	tx := lockCalls(t, dsn)
	add(t, s, chunk("gr-", 0, 100)...)
	waitFor(t, "the writer blocked on the lock", func() bool {
		var waiting bool
		err := connect(t, dsn).QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted AND relation = 'hep_proto_1_call'::regclass)").Scan(&waiting)
		return err == nil && waiting
	})
	for i := 1; i < 20; i++ {
		add(t, s, chunk("gr-", 100*i, 100)...)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, s, 2000)
	// 100 (the writer's), 100 (the first to wait), four of 400, the
	// last 200.
	if b := s.Stats().Batches; b > 7 {
		t.Errorf("2000 rows behind a backlog took %d COPYs, want at most 7 (20 without growing)", b)
	}

	before := s.Stats().Batches
	for i := range 3 {
		add(t, s, chunk("gr-", 2000+100*i, 100)...)
		waitSettled(t, s, uint64(2100+100*i))
	}
	if b := s.Stats().Batches - before; b != 3 {
		t.Errorf("3 batches of 100 rows without a backlog took %d COPYs, want 3", b)
	}
	exactlyOnce(t, dsn, "gr-", 2300)
}

// lockCalls locks hep_proto_1_call in a transaction that blocks every
// writer's COPY into it until the caller rolls it back.
func lockCalls(t *testing.T, dsn string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := connect(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE hep_proto_1_call IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return tx
}
