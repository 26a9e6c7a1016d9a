package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/store/pgtest"
)

// lossyBlocks returns how many heap blocks a search of create_date in
// [from, to] reads through part's BRIN index (c must have sequential scans
// off), and the blocks of part.
func lossyBlocks(t *testing.T, c *pgx.Conn, part string, from, to time.Time) (lossy, pages int) {
	t.Helper()
	ctx := context.Background()
	var plan []byte
	if err := c.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM "+part+
		" WHERE create_date BETWEEN $1 AND $2", from, to).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	var find func(n map[string]any) (float64, bool)
	find = func(n map[string]any) (float64, bool) {
		if n["Node Type"] == "Bitmap Heap Scan" {
			l, _ := n["Lossy Heap Blocks"].(float64)
			return l, true
		}
		sub, _ := n["Plans"].([]any)
		for _, p := range sub {
			if l, ok := find(p.(map[string]any)); ok {
				return l, true
			}
		}
		return 0, false
	}
	var doc []struct{ Plan map[string]any }
	if err := json.Unmarshal(plan, &doc); err != nil {
		t.Fatal(err)
	}
	l, ok := find(doc[0].Plan)
	if !ok {
		t.Fatalf("no bitmap scan of the BRIN index in:\n%s", plan)
	}
	if err := c.QueryRow(ctx, "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int", part).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	return int(l), pages
}

// TestLeanBRINSummarized: with the lean profile, hepd summarises the BRIN
// index of the partitions it wrote, so that a search of a short time range
// reads the block ranges that hold it, not every block filled since the
// index was created. The rows fill many ranges of 32 pages (the SIP
// tables' BRIN index); one writer lays them out in time order (two
// interleave their batches, widening each range's bounds by a batch).
func TestLeanBRINSummarized(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean, FlushInterval: 10 * time.Millisecond,
		Writers: 1, SummarizeInterval: 50 * time.Millisecond})
	at := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	part := "hep_proto_1_call_" + at.Truncate(time.Hour).Format("20060102_1504")
	raw := strings.Repeat("x", 1500) // about four rows a page
	const n = 3000
	rows := make([]store.Row, 0, n)
	for i := range n {
		r := sipRow("hep_proto_1_call", "brin", at.Add(time.Duration(i)*time.Millisecond))
		r.Raw = []byte(raw)
		rows = append(rows, r)
	}
	add(t, s, rows...)
	waitSettled(t, s, n)

	c := connect(t, dsn)
	if _, err := c.Exec(context.Background(), "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	from, to := at.Add(1000*time.Millisecond), at.Add(1010*time.Millisecond)
	var lossy, pages int
	const rangePages = 32
	waitFor(t, "the BRIN index summarised", func() bool {
		lossy, pages = lossyBlocks(t, c, part, from, to)
		return lossy <= 2*rangePages
	})
	if pages < 4*rangePages {
		t.Fatalf("the rows fill %d pages, want several ranges of %d", pages, rangePages)
	}
	// CREATE INDEX summarised the first range (empty then); hepd the rest,
	// the last one partly filled. Then nothing is left to summarise.
	ranges := uint64(pages+rangePages-1)/rangePages - 1
	waitFor(t, "every range counted", func() bool { return s.Stats().RangesSummarized >= ranges })
	if got := s.Stats().RangesSummarized; got != ranges {
		t.Errorf("RangesSummarized = %d, want %d", got, ranges)
	}
	var left int64
	if err := c.QueryRow(context.Background(), "SELECT brin_summarize_new_values($1::regclass)", part+"_create_date").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d ranges were left unsummarised", left)
	}
	t.Logf("a 10 ms search reads %d of %d blocks", lossy, pages)
}

// TestAutosummarizeReset: BRIN indexes of hepd's partitions that have
// autosummarize (as the lean profile made them before hepd summarised them
// itself) lose it when hepd starts, and new ones are made without it.
func TestAutosummarizeReset(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s := open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean})
	c := connect(t, dsn)
	const withOption = `SELECT count(*) FROM pg_class i JOIN pg_am a ON a.oid = i.relam
		WHERE a.amname = 'brin' AND EXISTS (SELECT FROM unnest(i.reloptions) o WHERE o LIKE 'autosummarize=%')`
	var brin, with int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_class i JOIN pg_am a ON a.oid = i.relam WHERE a.amname = 'brin'`).Scan(&brin); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, withOption).Scan(&with); err != nil {
		t.Fatal(err)
	}
	if brin == 0 || with != 0 {
		t.Fatalf("%d BRIN indexes, %d with autosummarize; want some, none", brin, with)
	}
	if _, err := c.Exec(ctx, `DO $$ DECLARE i regclass; BEGIN
		FOR i IN SELECT c.oid FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'brin' LOOP
			EXECUTE format('ALTER INDEX %s SET (autosummarize = on)', i);
		END LOOP; END $$`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean})
	if err := c.QueryRow(ctx, withOption).Scan(&with); err != nil {
		t.Fatal(err)
	}
	if with != 0 {
		t.Errorf("%d of %d BRIN indexes still have autosummarize after a restart", with, brin)
	}
}

// TestSummarizeBusyOrDropped: a round does not wait for a partition that
// VACUUM (or anything else taking its lock) holds, and keeps it for the
// next round; a partition dropped before its round is skipped.
func TestSummarizeBusyOrDropped(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s := open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean, SummarizeInterval: time.Hour, FlushInterval: 10 * time.Millisecond})
	now := time.Now().UTC()
	kept, dropped := now.Add(-24*time.Hour), now.Add(24*time.Hour)
	var rows []store.Row
	for i := range 2000 { // 400 to 500 pages: 4 ranges, the first summarised by CREATE INDEX
		r := sipRow("hep_proto_1_call", "busy", kept.Add(time.Duration(i)*time.Microsecond))
		r.Raw = []byte(strings.Repeat("x", 1500))
		rows = append(rows, r, sipRow("hep_proto_1_call", "gone", dropped))
	}
	add(t, s, rows...)
	waitSettled(t, s, uint64(len(rows)))
	part := func(at time.Time) string { return "hep_proto_1_call_" + at.Truncate(time.Hour).Format("20060102_1504") }

	c := connect(t, dsn)
	if _, err := c.Exec(ctx, "DROP TABLE "+part(dropped)); err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+part(kept)+" IN SHARE UPDATE EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n, err := s.SummarizeBRIN(ctx); n != 0 || err != nil {
		t.Errorf("round with the partition locked: %d ranges, %v; want 0, nil", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the round waited %v for the lock", d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SummarizeBRIN(ctx); n < 2 || err != nil {
		t.Errorf("next round: %d ranges, %v; want the 2 or more the rows fill, nil", n, err)
	}
	if n, err := s.SummarizeBRIN(ctx); n != 0 || err != nil {
		t.Errorf("round with nothing written: %d ranges, %v; want 0, nil", n, err)
	}
}

// TestCloseSummarizes: Close summarises what was written since the last
// round.
func TestCloseSummarizes(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s := open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean, SummarizeInterval: time.Hour, FlushInterval: 10 * time.Millisecond})
	at := time.Now().UTC().Add(-24 * time.Hour)
	var rows []store.Row
	for i := range 2000 {
		r := sipRow("hep_proto_1_call", "close", at.Add(time.Duration(i)*time.Microsecond))
		r.Raw = []byte(strings.Repeat("x", 1500))
		rows = append(rows, r)
	}
	add(t, s, rows...)
	waitSettled(t, s, uint64(len(rows)))
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().RangesSummarized; n < 2 {
		t.Errorf("Close summarised %d ranges, want the 2 or more the rows fill", n)
	}
	var left int64
	idx := "hep_proto_1_call_" + at.Truncate(time.Hour).Format("20060102_1504") + "_create_date"
	if err := connect(t, dsn).QueryRow(ctx, "SELECT brin_summarize_new_values($1::regclass)", idx).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d ranges left unsummarised after Close", left)
	}
}

// TestStartSummarizesAfterCrash: rows a previous hepd committed but did not
// summarise before it died (here written with plain SQL after a clean
// stop) are summarised by the first round after the next start.
func TestStartSummarizesAfterCrash(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s := open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean})
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Hour)
	if _, err := connect(t, dsn).Exec(ctx, `INSERT INTO hep_proto_1_call (sid, create_date, protocol_header, data_header, raw)
		SELECT 'crash', $1::timestamptz + i * interval '1 microsecond', '{}', '{}', repeat('x', 1500)
		FROM generate_series(1, 2000) i`, at); err != nil {
		t.Fatal(err)
	}

	s = open(t, store.Config{DSN: dsn, IndexProfile: store.ProfileLean, SummarizeInterval: time.Hour})
	if n, err := s.SummarizeBRIN(ctx); n < 2 || err != nil {
		t.Errorf("first round after the start: %d ranges, %v; want the 2 or more the rows fill, nil", n, err)
	}
	var left int64
	idx := "hep_proto_1_call_" + at.Format("20060102_1504") + "_create_date"
	if err := connect(t, dsn).QueryRow(ctx, "SELECT brin_summarize_new_values($1::regclass)", idx).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d ranges left unsummarised", left)
	}
	if n, err := s.SummarizeBRIN(ctx); n != 0 || err != nil {
		t.Errorf("second round: %d ranges, %v; want 0, nil", n, err)
	}
}
