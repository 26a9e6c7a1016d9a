package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// writer owns one connection and writes batches: the live writers take
// sealed batches from the queue, the replayer takes spooled ones.
//
// Every COPY runs in a transaction that also sets the writer's row in
// hepd_progress to a fresh sequence number. When the connection dies while
// the COMMIT is in flight, the outcome is unknown; the writer keeps the
// attempt's mark and, once connected again, reads the row back: the batch
// is in exactly when the row holds that mark's number. A batch that must go
// to the spool in that state carries its mark along, and the writer takes a
// new id, so that nothing overwrites the row the replay will check.
type writer struct {
	s       *Store
	ctx     context.Context // ends when the writer must give up
	replay  bool            // the replayer: never spools, gives the rows back instead
	conn    *pgx.Conn
	src     copyReader
	slots   []time.Time // scratch for ensurePartitions
	sql     []byte      // scratch for the progress statement
	backoff time.Duration
	id      string
	seq     int64
}

func (s *Store) newWriter(ctx context.Context, replay bool) *writer {
	w := &writer{s: s, ctx: ctx, replay: replay}
	w.newID()
	return w
}

// newID gives the writer a new identity in hepd_progress.
func (w *writer) newID() {
	var b [8]byte
	rand.Read(b[:])
	w.id, w.seq = "w-"+hex.EncodeToString(b[:]), 0
}

func (w *writer) close() {
	if w.conn != nil {
		w.conn.Close(context.Background())
		w.conn = nil
	}
}

func (s *Store) writer() {
	defer s.writers.Done()
	w := s.newWriter(s.runCtx, false)
	defer w.close()
	for b := s.next(); b != nil; b = s.next() {
		w.write(b, b.all(), nil)
		s.done(b)
	}
}

// write settles the rows sel of b: it commits them, rejects the ones the
// database refuses for their content, or (live writers) spools them while
// the database is unusable. rec, when not nil, is the mark to commit the
// whole selection under (a spooled record's position). It returns false
// only for the replayer, when its context ended first: the rows stay where
// they came from.
func (w *writer) write(b *batch, sel []int32, rec *mark) bool {
	s := w.s
	tbl := tables[b.table].name
	noPartition := 0
	var maybe *mark // an attempt whose COMMIT may have gone through
	for {
		if w.ctx.Err() != nil {
			if w.replay {
				return false
			}
			if !s.spoolRows(b, sel, maybe) {
				s.unwritten(b, sel, w.ctx.Err())
			}
			return true
		}
		if !w.replay && s.down.Load() && s.spoolRows(b, sel, maybe) {
			if maybe != nil {
				w.newID()
			}
			return true
		}
		err := w.connect()
		if err == nil && maybe != nil {
			var in bool
			if in, err = w.committed(*maybe); err == nil {
				if in {
					s.stats.ambiguousIn.Add(1)
					w.account(b, sel, rec)
					return true
				}
				maybe = nil
			}
		}
		if err == nil {
			err = w.ensurePartitions(b, sel)
		}
		if err == nil {
			m := w.nextMark(rec)
			var unknown bool
			if unknown, err = w.copyTx(b, sel, m); err == nil {
				w.account(b, sel, rec)
				return true
			} else if unknown {
				s.stats.ambiguous.Add(1)
				maybe = &m
			}
		}
		s.stats.copyErrors.Add(1)
		switch classify(err) {
		case errNoPartition:
			// Another node dropped a partition we knew of: re-read the
			// catalog and create it again. Twice in a row is the data's
			// fault (e.g. a bound we cannot create); isolate then.
			if noPartition++; noPartition <= 2 {
				if w.conn != nil { // a failed ROLLBACK closes it
					if spans, lerr := loadSpans(w.ctx, w.conn, &tables[b.table]); lerr == nil {
						s.parts.set(b.table, spans)
					}
				}
				continue
			}
			fallthrough
		case errData:
			var pieces string
			if rec != nil {
				pieces = rec.pieces
			}
			if !w.isolate(b, sel, err, pieces) {
				return false
			}
			if rec != nil && rec.id != pieces {
				// The pieces were committed under their own marks; now
				// the record as a whole is done. (A piece's mark is its
				// last row's, which its own last piece committed.)
				w.saveMark(*rec)
			}
			return true
		case errPermanent:
			// Dropping the rows would lose data, isolating them would
			// reject good rows: spool them, or wait with backpressure, for
			// a human to fix the schema or privileges.
			s.rlog.Log(slog.LevelError, "retry:"+tbl, "store: cannot write batch (schema or privileges?), will retry",
				"table", tbl, "rows", len(sel), "err", err)
		default:
			w.forgetClosed()
			s.rlog.Log(slog.LevelWarn, "retry:"+tbl, "store: cannot write batch, will retry",
				"table", tbl, "rows", len(sel), "spool", s.spool != nil, "err", err)
		}
		// Further batches go straight to the spool, if there is one, until
		// a write succeeds again (the replayer finds out).
		if !s.down.Swap(true) && s.spool != nil {
			s.log.Warn("store: database unusable, spooling batches to disk", "dir", s.spool.Dir(), "err", err)
		}
		if !w.replay && s.spool != nil {
			if s.spoolRows(b, sel, maybe) {
				if maybe != nil {
					w.newID()
				}
				return true
			}
		}
		w.sleep()
	}
}

// account counts a committed selection.
func (w *writer) account(b *batch, sel []int32, rec *mark) {
	s := w.s
	b.observeCommitted(&s.stats.commit, sel, time.Now().UnixNano())
	s.stats.committed.Add(uint64(len(sel)))
	s.noteWritten(b, sel)
	if rec != nil {
		s.stats.replayed.Add(uint64(len(sel)))
	}
	s.stats.batches.Add(1)
	w.backoff = 0
	if s.down.Swap(false) {
		s.log.Info("store: database writable again")
	}
}

func (w *writer) nextMark(rec *mark) mark {
	if rec != nil {
		return *rec
	}
	w.seq++
	return mark{id: w.id, seq: w.seq}
}

// copyTx writes the rows in one transaction with the progress mark m.
// BEGIN, the COPY, the mark and the COMMIT go in one simple-protocol query,
// so a batch costs one round trip: each extra one left both the backend
// and the writer waiting on the other. unknown reports an error after
// which the COMMIT may have succeeded.
func (w *writer) copyTx(b *batch, sel []int32, m mark) (unknown bool, err error) {
	w.sql = append(w.sql[:0], "BEGIN; "...)
	w.sql = append(w.sql, copySQL[b.table]...)
	w.sql = append(w.sql, "; "...)
	w.sql = appendMarkSQL(w.sql, m)
	w.sql = append(w.sql, "; COMMIT"...)
	att := &copyAttempt{src: w.src.reset(b, sel)}
	_, err = w.conn.PgConn().CopyFrom(w.ctx, att, string(w.sql))
	att.end()
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			// The server answered: whichever statement failed, the
			// transaction did not commit, and may still be open.
			w.rollback()
			return false, err
		}
		// The connection failed somewhere between BEGIN and COMMIT.
		return true, err
	}
	return false, nil
}

// appendMarkSQL appends the upsert of m. The id is hex made by hepd and the
// number an integer, so they are spelt as literals: the statement then goes
// in the same simple-protocol message as its COMMIT.
func appendMarkSQL(dst []byte, m mark) []byte {
	dst = append(dst, "INSERT INTO hepd_progress (id, seq) VALUES ('"...)
	dst = append(dst, m.id...)
	dst = append(dst, "', "...)
	dst = strconv.AppendInt(dst, m.seq, 10)
	return append(dst, ") ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now()"...)
}

// saveMark records m on its own, after a record was written in pieces.
func (w *writer) saveMark(m mark) {
	w.retry("save a replayed batch's progress", func() error {
		_, err := w.conn.PgConn().Exec(w.ctx, string(appendMarkSQL(nil, m))).ReadAll()
		return err
	})
}

// retry connects and runs op until it succeeds (true) or the writer's
// context ends (false), with backoff; failures are logged, rate-limited,
// as failing to do what.
func (w *writer) retry(what string, op func() error) bool {
	for {
		err := w.connect()
		if err == nil {
			if err = op(); err == nil {
				return true
			}
		}
		if w.ctx.Err() != nil {
			return false
		}
		w.forgetClosed()
		w.s.rlog.Log(slog.LevelWarn, "retry:"+what, "store: cannot "+what+", will retry", "err", err)
		w.sleep()
	}
}

func (w *writer) rollback() {
	if w.conn == nil || w.conn.IsClosed() || w.conn.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.conn.PgConn().Exec(ctx, "ROLLBACK").ReadAll(); err != nil {
		w.conn.Close(ctx)
		w.conn = nil
	}
}

// committed reports whether the attempt m committed.
func (w *writer) committed(m mark) (bool, error) {
	var seq int64
	err := w.conn.QueryRow(w.ctx, "SELECT seq FROM hepd_progress WHERE id = $1", m.id).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return seq == m.seq, nil
}

// isolate splits a batch the database refused for its content. PostgreSQL
// names the offending COPY line, so the rows before it are good, the row
// itself is tried alone, and the rest is written again (and split again if
// needed); without a line number the batch is halved. The pieces settle in
// the order of their rows, so with pieces set (a replayed record) each
// one commits, under that id, the index after its last row: the rows a
// crash leaves settled are a prefix, and the replay skips it.
func (w *writer) isolate(b *batch, sel []int32, err error, pieces string) bool {
	if len(sel) == 1 {
		w.reject(b, sel[0], err, pieceMark(pieces, sel))
		return true
	}
	// sel aliases b.sel; copy before recursing, which reuses nothing of it
	// but must not see it change under it either.
	sel = append([]int32(nil), sel...)
	var parts [][]int32
	if line := copyLine(err); line >= 1 && line <= len(sel) {
		parts = [][]int32{sel[:line-1], sel[line-1 : line], sel[line:]}
	} else {
		h := len(sel) / 2
		parts = [][]int32{sel[:h], sel[h:]}
	}
	for _, p := range parts {
		if len(p) > 0 && !w.write(b, p, pieceMark(pieces, p)) {
			return false
		}
	}
	return true
}

// pieceMark is the mark of the piece sel under pieces, or nil without.
func pieceMark(pieces string, sel []int32) *mark {
	if pieces == "" {
		return nil
	}
	return &mark{id: pieces, seq: int64(sel[len(sel)-1]) + 1, pieces: pieces}
}

// forgetClosed drops a connection that died, so the next attempt makes a
// new one.
func (w *writer) forgetClosed() {
	if w.conn != nil && w.conn.IsClosed() {
		w.conn = nil
	}
}

func (w *writer) connect() error {
	if w.conn != nil {
		return nil
	}
	c, err := pgx.ConnectConfig(w.ctx, w.s.wrCfg)
	if err != nil {
		return err
	}
	w.conn = c
	return nil
}

func (w *writer) sleep() {
	w.backoff = min(max(2*w.backoff, w.s.cfg.RetryMin), w.s.cfg.RetryMax)
	t := time.NewTimer(w.backoff)
	defer t.Stop()
	select {
	case <-w.ctx.Done():
	case <-t.C:
	}
}

// ensurePartitions creates the partitions missing for rows sel of b.
// A DDL error that is not about connectivity is logged and ignored: the
// COPY then reports the rows without a partition and they are isolated,
// rather than the table stalling forever.
func (w *writer) ensurePartitions(b *batch, sel []int32) error {
	s := w.s
	spans := s.parts.get(b.table)
	step := s.cfg.step[b.table]
	w.slots = w.slots[:0]
	var last span
	for _, i := range sel {
		us := b.rows[i].us
		if us >= last.from && us < last.to {
			continue
		}
		if sp, ok := find(spans, us); ok {
			last = sp
			continue
		}
		from, _ := slot(time.UnixMicro(us), step)
		if len(w.slots) == 0 || !containsTime(w.slots, from) {
			w.slots = append(w.slots, from)
		}
	}
	if len(w.slots) == 0 {
		return nil
	}
	_, err := s.createPartitions(w.ctx, w.conn, b.table, w.slots)
	if err != nil && classify(err) != errRetry {
		s.rlog.Log(slog.LevelError, "ddl:"+tables[b.table].name, "store: cannot create partition on demand",
			"table", tables[b.table].name, "err", err)
		return nil
	}
	return err
}

func containsTime(ts []time.Time, t time.Time) bool {
	for _, x := range ts {
		if x.Equal(t) {
			return true
		}
	}
	return false
}

// unwritten receives rows that neither the database nor the spool took
// before Close gave up: they are counted and logged as lost.
func (s *Store) unwritten(b *batch, sel []int32, err error) {
	s.stats.lost.Add(uint64(len(sel)))
	tbl := tables[b.table].name
	s.rlog.Log(slog.LevelError, "lost:"+tbl, "store: rows not written", "table", tbl, "rows", len(sel), "err", err)
}
