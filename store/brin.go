package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A BRIN index summarises block ranges of its table; a range filled since
// the last summary is not in it, so every search through the index reads
// that range in full. PostgreSQL summarises new ranges in VACUUM, or, with
// autosummarize, through autovacuum's queue of work items: 256 places,
// drained on each autovacuum visit of the database, with a LOG line
// (carrying the COPY statement) for every request that finds it full. hepd
// fills about one range (128 pages) per megabyte of rows, so at a few
// thousand rows a second that queue overflows. Instead, the writers note
// the partitions they committed rows to, and a loop summarises the BRIN
// indexes of those partitions every Config.SummarizeInterval (and Close
// once more).

// brinLockTimeout bounds the wait for an index's lock. Summarising takes
// the lock VACUUM takes: rather than wait for an autovacuum of the
// partition (which, after deadlock_timeout, would be cancelled for it), a
// round leaves that partition to the next one; the VACUUM summarises too.
const brinLockTimeout = "100ms"

// brinSuffixes returns the suffixes of the BRIN indexes among indexes.
func brinSuffixes(indexes []index) []string {
	var s []string
	for _, ix := range indexes {
		if ix.using == "brin" {
			s = append(s, ix.suffix)
		}
	}
	return s
}

// noteWritten records the partitions that rows sel of b were committed to,
// for the next summarising round. A row whose partition is not in the cache
// (another node created it) is left to VACUUM.
func (s *Store) noteWritten(b *batch, sel []int32) {
	if len(s.cfg.brin[b.table]) == 0 {
		return
	}
	spans := s.parts.get(b.table)
	var last span
	s.brinMu.Lock()
	defer s.brinMu.Unlock()
	for _, i := range sel {
		us := b.rows[i].us
		if us >= last.from && us < last.to {
			continue
		}
		sp, ok := find(spans, us)
		if !ok {
			continue
		}
		last = sp
		s.brinDirty[sp.name] = b.table
	}
}

// noteExisting marks every partition with BRIN indexes that starts before
// now for the next summarising round. Close summarises what its process
// wrote, but a crash leaves the ranges filled since its last round, and
// nothing tells which partitions those are. A partition without new
// ranges costs the round one look at its range map.
func (s *Store) noteExisting(now time.Time) {
	us := now.UnixMicro()
	s.brinMu.Lock()
	defer s.brinMu.Unlock()
	for t := range tables {
		if len(s.cfg.brin[t]) == 0 {
			continue
		}
		for _, sp := range s.parts.get(t) {
			if sp.from <= us {
				s.brinDirty[sp.name] = t
			}
		}
	}
}

// summarize runs a summarising round; it runs each SummarizeInterval.
func (s *Store) summarize(ctx context.Context) {
	if s.down.Load() {
		return // the writers say so already; the partitions wait
	}
	if _, err := s.SummarizeBRIN(ctx); err != nil && ctx.Err() == nil {
		s.rlog.Log(slog.LevelWarn, "brin", "store: BRIN summarising round failed, next round will retry", "err", err)
	}
}

// SummarizeBRIN runs one summarising round now: it summarises the new block
// ranges of the BRIN indexes of the partitions written since the last
// round, and returns how many ranges it summarised. With an index profile
// without BRIN indexes there is nothing to do. The summarising loop calls
// it every Config.SummarizeInterval.
//
// brin_summarize_new_values includes the last, partly filled range: rows
// added to it later widen its summary as they come, which for one range
// per round costs little.
func (s *Store) SummarizeBRIN(ctx context.Context) (int64, error) {
	s.brinMu.Lock()
	if len(s.brinDirty) == 0 {
		s.brinMu.Unlock()
		return 0, nil
	}
	parts := maps.Clone(s.brinDirty)
	clear(s.brinDirty)
	s.brinMu.Unlock()

	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	conn, err := s.maintenanceConn(ctx)
	var total int64
	for p, t := range parts {
		if err != nil {
			break
		}
		busy := false
		for _, suffix := range s.cfg.brin[t] {
			var n int64
			n, err = summarizeIndex(ctx, conn, p+"_"+suffix)
			total += n
			if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
				busy, err = true, nil
			}
			if err != nil {
				break
			}
		}
		if !busy && err == nil {
			delete(parts, p)
		}
	}
	// What is left (a locked index, or a failed round) waits for the next round.
	s.brinMu.Lock()
	maps.Copy(s.brinDirty, parts)
	s.brinMu.Unlock()
	s.stats.brinRanges.Add(uint64(total))
	if err != nil {
		return total, fmt.Errorf("store: summarize BRIN indexes: %w", err)
	}
	return total, nil
}

// summarizeIndex summarises the new ranges of the named BRIN index, if it
// still exists (its partition may have been dropped), and returns how many
// it summarised.
func summarizeIndex(ctx context.Context, conn *pgx.Conn, name string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+brinLockTimeout+"'"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT coalesce(brin_summarize_new_values(to_regclass($1)), 0)", name).Scan(&n)
	})
	return n, err
}

// autosummarizeOff resets autosummarize on the BRIN indexes of hepd's
// partitions that have it: the lean profile set it on partitions created
// before hepd summarised them itself, and those are made days ahead.
func autosummarizeOff(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `SELECT i.oid::regclass::text FROM pg_class i
		JOIN pg_index x ON x.indexrelid = i.oid
		JOIN pg_inherits h ON h.inhrelid = x.indrelid
		WHERE h.inhparent = ANY($1::regclass[])
		AND EXISTS (SELECT FROM unnest(i.reloptions) o WHERE o LIKE 'autosummarize=%')`, Tables())
	if err != nil {
		return fmt.Errorf("find BRIN indexes with autosummarize: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find BRIN indexes with autosummarize: %w", err)
	}
	if len(names) == 0 {
		return nil
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "ALTER INDEX %s RESET (autosummarize);\n", n)
	}
	if _, err := conn.Exec(ctx, b.String()); err != nil {
		return fmt.Errorf("reset autosummarize: %w", err)
	}
	return nil
}
