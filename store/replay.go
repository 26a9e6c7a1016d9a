package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store/spool"
)

// replayer writes the spool back into the database, oldest record first,
// while the live writers go on with new traffic. It is also what finds out
// that the database is back: the live writers spool without trying while
// Store.down is set, and the replayer's first successful commit clears it.
//
// Each record is committed together with its position in hepd_progress
// (under the id "spool-<spool id>"), so after a crash or restart the
// records up to that position are skipped rather than written twice.
func (s *Store) replayer(ctx context.Context) {
	defer s.loops.Done()
	w := s.newWriter(ctx, true)
	defer w.close()

	if !s.dbReady.Load() && !s.waitReady(ctx, w) {
		return
	}
	key := "spool-" + s.spool.ID()
	var done int64
	var settled map[string]int64 // rows settled of records split before a crash, by pieces id
	if !w.retry("read the spool's progress", func() error {
		err := w.conn.QueryRow(ctx, "SELECT seq FROM hepd_progress WHERE id = $1", key).Scan(&done)
		if errors.Is(err, pgx.ErrNoRows) {
			done, err = 0, nil
		}
		if err != nil {
			return err
		}
		rows, err := w.conn.Query(ctx, "SELECT id, seq FROM hepd_progress WHERE starts_with(id, $1)", key+"/")
		if err != nil {
			return err
		}
		settled = map[string]int64{}
		var id string
		var seq int64
		_, err = pgx.ForEachRow(rows, []any{&id, &seq}, func() error { settled[id] = seq; return nil })
		return err
	}) {
		return
	}

	var b batch
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	busy := false
	for {
		rec, err := s.spool.Next(ctx)
		if err != nil {
			return
		}
		select {
		case <-progress.C:
			s.logReplay()
		default:
		}
		if !busy {
			busy = true
			st := s.spool.Stats()
			s.log.Info("store: replaying the spool", "dir", s.spool.Dir(), "rows", st.Rows, "bytes", st.Bytes, "segments", st.Segments)
		}
		if !s.replayRecord(w, &b, rec, key, done, settled) {
			return
		}
		s.spool.Done(rec)
		if st := s.spool.Stats(); st.Records == 0 {
			busy = false
			s.log.Info("store: spool replayed", "rows_replayed", s.stats.replayed.Load(), "rows_skipped", s.stats.replaySkipped.Load())
		}
	}
}

// replayRecord writes one spooled record; false means ctx ended first and
// the record stays in the spool. settled holds the rows already settled of
// records whose split a crash interrupted (see writer.isolate).
func (s *Store) replayRecord(w *writer, b *batch, rec spool.Record, key string, done int64, settled map[string]int64) bool {
	if int64(rec.Pos()) <= done {
		// Committed before a restart: the position says so.
		s.stats.replaySkipped.Add(uint64(rec.Rows))
		return true
	}
	maybe, err := decodeSpooled(rec.Payload, b)
	if err != nil {
		// The checksum held, so this is not damage on disk but a record
		// this hepd cannot read (a newer format?): keep it aside.
		s.stats.spoolUnreadable.Add(uint64(rec.Rows))
		s.log.Error("store: spooled batch unreadable, skipped", "dir", s.spool.Dir(), "segment", rec.Seg, "offset", rec.End, "rows", rec.Rows, "err", err)
		return true
	}
	// The batch's COMMIT was in flight when its connection died: it is in
	// exactly when its writer's progress row says so.
	if maybe != nil {
		var in bool
		if !w.retry("check a batch's lost COMMIT", func() (err error) { in, err = w.committed(*maybe); return err }) {
			return false
		}
		if in {
			s.stats.ambiguousIn.Add(1)
			s.stats.replaySkipped.Add(uint64(len(b.rows)))
			return true
		}
	}
	m := &mark{id: key, seq: int64(rec.Pos())}
	m.pieces = key + "/" + strconv.FormatInt(m.seq, 10)
	sel := b.all()
	if n := min(settled[m.pieces], int64(len(sel))); n > 0 {
		s.stats.replaySkipped.Add(uint64(n))
		if sel = sel[n:]; len(sel) == 0 {
			w.saveMark(*m)
			return true
		}
	}
	return w.write(b, sel, m)
}

// waitReady connects, applies the migrations and creates the partitions
// of the coming days, retrying until it works or ctx ends. Open does this
// itself unless the database was unreachable then.
func (s *Store) waitReady(ctx context.Context, w *writer) bool {
	if !w.retry("prepare the schema (spooling meanwhile)", func() error { return s.prepare(ctx, w.conn) }) {
		return false
	}
	s.dbReady.Store(true)
	s.log.Info("store: database reachable, schema ready")
	return true
}

func (s *Store) logReplay() {
	st := s.spool.Stats()
	s.log.Info("store: spool replay progress", "rows_left", st.Rows, "bytes_left", st.Bytes, "segments", st.Segments,
		"rows_replayed", s.stats.replayed.Load())
}
