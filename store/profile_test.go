package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/store/pgtest"
)

// TestIndexProfiles: each profile creates its index set on new partitions,
// and rows commit with either, with and without synchronous commit.
func TestIndexProfiles(t *testing.T) {
	sipHomer := []string{"auth_user", "callid", "correlation_id", "create_date", "dstip", "from_user", "method",
		"pid_user", "ruri_domain", "ruri_user", "sid", "srcip", "to_user"}
	for _, tc := range []struct {
		profile string
		async   bool
		table   string
		want    []string // index suffixes of a partition of table
	}{
		{"", false, "hep_proto_1_call", sipHomer},
		{"homer", true, "hep_proto_1_registration", sipHomer},
		{"lean", false, "hep_proto_1_call", []string{"create_date", "from_user", "sid", "to_user"}},
		{"lean", true, "hep_proto_100_default", []string{"create_date", "sid"}},
	} {
		t.Run(tc.profile+"/"+tc.table, func(t *testing.T) {
			dsn := pgtest.DSN(t)
			s := open(t, store.Config{DSN: dsn, IndexProfile: tc.profile, AsyncCommit: tc.async, FlushInterval: 10 * time.Millisecond})
			at := time.Now()
			add(t, s, sipRow(tc.table, "p", at), sipRow(tc.table, "q", at))
			waitSettled(t, s, 2)
			c := connect(t, dsn)
			part := tc.table + "_" + at.UTC().Truncate(time.Hour).Format("20060102_1504")
			if tc.table == "hep_proto_100_default" {
				part = tc.table + "_" + at.UTC().Truncate(2*time.Hour).Format("20060102_1504")
			}
			rows, _ := c.Query(context.Background(), "SELECT indexname::text FROM pg_indexes WHERE tablename = $1", part)
			var got []string
			var name string
			if _, err := pgx.ForEachRow(rows, []any{&name}, func() error {
				got = append(got, strings.TrimPrefix(name, part+"_"))
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
