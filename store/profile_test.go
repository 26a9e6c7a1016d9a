package store_test

import (
	"context"
	"fmt"
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
		want    []string // "suffix method" of the indexes of a partition of table, "(n)" for n columns
	}{
		{"", false, "hep_proto_1_call", sipHomer},
		{"homer", true, "hep_proto_1_registration", sipHomer},
		{"lean", false, "hep_proto_1_call", []string{"create_date brin(3)", "sid hash"}},
		{"lean", true, "hep_proto_100_default", []string{"create_date brin", "sid hash"}},
		{"lean", false, "hep_proto_54_default", []string{"create_date brin(3)", "sid hash"}},
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
			rows, _ := c.Query(context.Background(), `SELECT i.relname::text, am.amname::text, x.indnkeyatts FROM pg_index x
				JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
				WHERE x.indrelid = $1::regclass`, part)
			var got []string
			var name, method string
			var cols int
			if _, err := pgx.ForEachRow(rows, []any{&name, &method, &cols}, func() error {
				ix := strings.TrimPrefix(name, part+"_") + " " + method
				if cols > 1 {
					ix += "(" + strconv.Itoa(cols) + ")"
				}
				got = append(got, ix)
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
// indexed can be answered from the lean indexes, with the searched value
// in the index condition, and find every row they should, before and after
// the BRIN index is summarised; a LIKE search on a user falls back to the
// time range. Sequential scans are disabled so that the plan shows what
// the indexes can serve, not what the planner prefers for a table this
// small.
func TestLeanIndexesServeHomerSearches(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean, FlushInterval: 10 * time.Millisecond,
		SummarizeInterval: time.Hour})
	at := time.Now().UTC().Truncate(time.Minute)
	const n = 2000 // 1,500 bytes a row: about 500 pages, 16 ranges
	rows := make([]store.Row, 0, n)
	for i := range n {
		r := sipRow("hep_proto_1_call", "call-"+strconv.Itoa(i), at.Add(time.Duration(i)*time.Millisecond))
		r.DataHeader = []byte(`{"method":"INVITE","callid":"call-` + strconv.Itoa(i) + `","from_user":"alice-` + strconv.Itoa(i) +
			`","to_user":"bob-` + strconv.Itoa(i) + `"}`)
		r.Raw = []byte(strings.Repeat("x", 1500))
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
	const caller = between + " AND data_header->>'from_user' = 'alice-7'"
	cases := []struct {
		what, where string
		index       string // suffix of the index the plan must scan
		cond        string // what its index condition must name; "" for none but the time range
		rows        int    // rows found
	}{
		{"time range", between, "create_date", "", n},
		{"call flow", between + " AND sid = ANY(ARRAY['call-7', 'call-9'])", "sid", "sid", 2},
		{"sid IN", between + " AND sid IN ('call-7')", "sid", "sid", 1},
		{"caller", caller, "create_date", "from_user", 1},
		{"callee list", between + " AND data_header->>'to_user' IN ('bob-7', 'bob-1999', 'nobody')", "create_date", "to_user", 2},
		{"caller LIKE", between + " AND data_header->>'from_user' LIKE 'alice-1%'", "create_date", "", 1111},
	}
	check := func(t *testing.T, where, index, cond string, want int) {
		t.Helper()
		var plan strings.Builder
		rs, err := c.Query(ctx, "EXPLAIN SELECT id FROM hep_proto_1_call WHERE "+where, at.Add(-time.Minute), at.Add(time.Hour))
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
		m := regexp.MustCompile(`Index Scan (on|using) ` + part + "_" + index + ` .*\n\s*Index Cond: (.*)`).FindStringSubmatch(plan.String())
		switch {
		case m == nil:
			t.Errorf("%s: the plan does not scan %s_%s:\n%s", where, part, index, plan.String())
		case cond != "" && !strings.Contains(m[2], cond):
			t.Errorf("%s: the index condition does not name %s:\n%s", where, cond, plan.String())
		case cond == "" && strings.Contains(m[2], "data_header"):
			t.Errorf("%s: the index condition names data_header:\n%s", where, plan.String())
		}
		var got int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM hep_proto_1_call WHERE "+where, at.Add(-time.Minute), at.Add(time.Hour)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: %d rows, want %d", where, got, want)
		}
	}
	for _, summarized := range []bool{false, true} {
		if summarized {
			if r, err := s.SummarizeBRIN(ctx); r < 10 || err != nil {
				t.Fatalf("SummarizeBRIN: %d ranges, %v; want the 16 or so the rows fill", r, err)
			}
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/summarized=%v", tc.what, summarized), func(t *testing.T) {
				check(t, tc.where, tc.index, tc.cond, tc.rows)
			})
		}
	}
	// A summarised range whose filter holds no searched user is not read.
	// The time range may reach into the partitions on either side (in the
	// first minute of an hour, the one before), so the blocks are summed
	// over every partition the plan scans.
	var lossy int
	var plan []byte
	if err := c.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM hep_proto_1_call WHERE "+caller,
		at.Add(-time.Minute), at.Add(time.Hour)).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"Lossy Heap Blocks": (\d+)`).FindAllSubmatch(plan, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		lossy += n
	}
	if lossy == 0 || lossy > 2*32 {
		t.Errorf("the caller search read %d blocks, want those of one or two ranges of 32:\n%s", lossy, plan)
	}
}
