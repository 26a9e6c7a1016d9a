package store_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/store/pgtest"
)

// TestIndexProfiles: each profile creates its index set, of the right
// access methods, on new partitions, and rows commit with either, with and
// without synchronous commit.
func TestIndexProfiles(t *testing.T) {
	sipHomer := []string{"auth_user btree", "callid btree", "correlation_id btree", "create_date btree", "dstip btree",
		"from_user btree", "method btree", "pid_user btree", "ruri_domain btree", "ruri_user btree", "sid btree",
		"srcip btree", "to_user btree"}
	for _, tc := range []struct {
		profile string
		async   bool
		table   string
		want    []string // "suffix method" of the indexes of a partition of table
	}{
		{"", false, "hep_proto_1_call", sipHomer},
		{"homer", true, "hep_proto_1_registration", sipHomer},
		{"lean", false, "hep_proto_1_call", []string{"create_date brin", "from_user hash", "sid hash", "to_user hash"}},
		{"lean", true, "hep_proto_100_default", []string{"create_date brin", "sid hash"}},
		{"lean", false, "hep_proto_54_default", []string{"called_number hash", "calling_number hash", "create_date brin", "sid hash"}},
	} {
		t.Run(tc.profile+"/"+tc.table, func(t *testing.T) {
			dsn := pgtest.DSN(t)
			s := open(t, store.Config{DSN: dsn, IndexProfile: tc.profile, AsyncCommit: tc.async, FlushInterval: 10 * time.Millisecond})
			at := time.Now()
			add(t, s, sipRow(tc.table, "p", at), sipRow(tc.table, "q", at))
			waitSettled(t, s, 2)
			c := connect(t, dsn)
			step := map[string]time.Duration{"hep_proto_100_default": 2 * time.Hour, "hep_proto_54_default": 6 * time.Hour}[tc.table]
			part := tc.table + "_" + at.UTC().Truncate(max(step, time.Hour)).Format("20060102_1504")
			rows, _ := c.Query(context.Background(), `SELECT i.relname::text, am.amname::text FROM pg_index x
				JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
				WHERE x.indrelid = $1::regclass`, part)
			var got []string
			var name, method string
			if _, err := pgx.ForEachRow(rows, []any{&name, &method}, func() error {
				got = append(got, strings.TrimPrefix(name, part+"_")+" "+method)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("indexes of %s:\n got %v\nwant %v", part, got, tc.want)
			}
			if n := count(t, c, tc.table); n != 2 {
				t.Errorf("%d rows, want 2", n)
			}
		})
	}
}

// TestCommitLatency: every committed row is in the latency histogram, with
// quantiles ordered and bounded by the time the test waited.
func TestCommitLatency(t *testing.T) {
	s := open(t, store.Config{DSN: pgtest.DSN(t), BatchRows: 50, FlushInterval: 20 * time.Millisecond})
	start := time.Now()
	for i := range 120 {
		add(t, s, sipRow("hep_proto_1_call", "l", time.Now()), sipRow("hep_proto_1_default", "m", time.Now()))
		if i%40 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitSettled(t, s, 240)
	waited := time.Since(start)
	st := s.Stats()
	if st.CommitLatencyRows != 240 {
		t.Fatalf("CommitLatencyRows = %d, want 240", st.CommitLatencyRows)
	}
	if !(0 < st.CommitLatencyP50 && st.CommitLatencyP50 <= st.CommitLatencyP99 && st.CommitLatencyP99 <= st.CommitLatencyMax && st.CommitLatencyMax <= waited) {
		t.Errorf("p50 %v p99 %v max %v, waited %v", st.CommitLatencyP50, st.CommitLatencyP99, st.CommitLatencyMax, waited)
	}
}

// TestLeanIndexesServeHomerSearches: with the lean profile, the shapes of
// homer-app's queries (homer-schema.md §7.2) that the README says stay
// indexed can be answered from the lean indexes, and a LIKE search on a
// user falls back to the time range's BRIN index. Sequential scans are
// disabled so that the plan shows what the indexes can serve, not what the
// planner prefers for a table this small.
func TestLeanIndexesServeHomerSearches(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean, FlushInterval: 10 * time.Millisecond})
	at := time.Now().UTC().Truncate(time.Minute)
	rows := make([]store.Row, 0, 200)
	for i := range 200 {
		r := sipRow("hep_proto_1_call", "call-"+strconv.Itoa(i), at.Add(time.Duration(i)*time.Millisecond))
		r.DataHeader = []byte(`{"method":"INVITE","callid":"call-` + strconv.Itoa(i) + `","from_user":"alice-` + strconv.Itoa(i) +
			`","to_user":"bob-` + strconv.Itoa(i) + `"}`)
		rows = append(rows, r)
	}
	add(t, s, rows...)
	waitSettled(t, s, uint64(len(rows)))
	c := connect(t, dsn)
	ctx := context.Background()
	if _, err := c.Exec(ctx, "ANALYZE hep_proto_1_call; SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	part := "hep_proto_1_call_" + at.Truncate(time.Hour).Format("20060102_1504")
	const between = "create_date BETWEEN $1 AND $2"
	for _, tc := range []struct {
		what, where string
		index       string // suffix of the index the plan must scan
	}{
		{"time range", between, "create_date"},
		{"call flow", between + " AND sid = ANY(ARRAY['call-7', 'call-9'])", "sid"},
		{"sid IN", between + " AND sid IN ('call-7')", "sid"},
		{"caller", between + " AND data_header->>'from_user' = 'alice-7'", "from_user"},
		{"callee list", between + " AND data_header->>'to_user' IN ('bob-7', 'bob-9')", "to_user"},
		{"caller LIKE", between + " AND data_header->>'from_user' LIKE 'alice-1%'", "create_date"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			var plan strings.Builder
			rs, err := c.Query(ctx, "EXPLAIN SELECT id FROM hep_proto_1_call WHERE "+tc.where+" LIMIT 200",
				at.Add(-time.Minute), at.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			var line string
			if _, err := pgx.ForEachRow(rs, []any{&line}, func() error {
				plan.WriteString(line + "\n")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`Index Scan (on|using) ` + part + "_" + tc.index + ` `).MatchString(plan.String()) {
				t.Errorf("%s: the plan does not scan %s_%s:\n%s", tc.where, part, tc.index, plan.String())
			}
		})
	}
}
