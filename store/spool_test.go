package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/store/pgtest"
	"github.com/hepd/hepd/store/spool"
)

func chunk(prefix string, base, n int) []store.Row {
	rows := make([]store.Row, 0, n)
	for i := range n {
		rows = append(rows, sipRow("hep_proto_1_call", fmt.Sprint(prefix, base+i), time.Now()))
	}
	return rows
}

// exactlyOnce checks that the call table holds the rows prefix0..prefix(n-1)
// exactly once each.
func exactlyOnce(t *testing.T, dsn, prefix string, n int) {
	t.Helper()
	c := connect(t, dsn)
	var total, distinct int
	if err := c.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT sid) FROM hep_proto_1_call WHERE sid LIKE $1", prefix+"%").Scan(&total, &distinct); err != nil {
		t.Fatal(err)
	}
	if total != n || distinct != n {
		t.Errorf("%d rows (%d distinct) in the database, want %d exactly once", total, distinct, n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSpoolWhileDatabaseDown: with the server stopped, Add keeps accepting
// far beyond MaxPending because batches go to the spool; after a restart the
// spool is replayed while new rows keep coming, every row lands exactly
// once and the segment files are deleted.
func TestSpoolWhileDatabaseDown(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewRestartable(t)
	spoolDir := t.TempDir()
	s, err := store.Open(ctx, store.Config{DSN: db.DSN(), BatchRows: 100, FlushInterval: 20 * time.Millisecond,
		MaxPending: 500, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		SpoolDir: spoolDir, SpoolMaxBytes: 64 << 20}, nil)
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	add(t, s, chunk("sp-", accepted, 200)...)
	accepted += 200
	waitSettled(t, s, 200)

	db.Stop()
	// Twenty times MaxPending: without the spool Add would block at 500.
	for accepted < 10200 {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.Add(actx, chunk("sp-", accepted, 100))
		cancel()
		if err != nil {
			t.Fatalf("Add with %d rows accepted: %v (stats %+v)", accepted, err, s.Stats())
		}
		accepted += 100
	}
	waitFor(t, "the rows to reach the spool", func() bool { st := s.Stats(); return st.RowsPending == 0 })
	st := s.Stats()
	if !st.DBDown || st.RowsSpooled != 10000 || st.SpoolRows != 10000 || st.RowsCommitted != 200 || st.RowsLost != 0 {
		t.Fatalf("during the outage: %+v", st)
	}
	if files, _ := filepath.Glob(filepath.Join(spoolDir, "*.seg")); len(files) == 0 {
		t.Fatal("no segment file in the spool folder")
	}

	db.Start()
	// New traffic while the replay runs.
	for range 20 {
		add(t, s, chunk("sp-", accepted, 50)...)
		accepted += 50
		time.Sleep(5 * time.Millisecond)
	}
	waitSettled(t, s, uint64(accepted))
	waitFor(t, "the spool to empty", func() bool { return s.Stats().SpoolRows == 0 })
	st = s.Stats()
	// Batches may also have spilled while the replay competed with the new
	// rows: everything spooled is replayed, whatever the reason.
	if st.DBDown || st.RowsReplayed != st.RowsSpooled || st.RowsSpooled < 10000 || st.RowsCommitted != uint64(accepted) {
		t.Errorf("after the replay: %+v", st)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, db.DSN(), "sp-", accepted)
	if files, _ := filepath.Glob(filepath.Join(spoolDir, "*.seg")); len(files) != 0 {
		t.Errorf("segment files left after the replay: %v", files)
	}
}

// TestOpenDownThenRestart: a store opened while the database is down
// captures into the spool, closes with everything spooled, and the next
// store replays it once the database is up: the restart-during-an-outage
// case.
func TestOpenDownThenRestart(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewRestartable(t)
	dsn := db.DSN()
	db.Stop()
	spoolDir := t.TempDir()
	cfg := store.Config{DSN: dsn, BatchRows: 100, FlushInterval: 20 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, SpoolDir: spoolDir, SpoolMaxBytes: 64 << 20}

	// Without a spool, an unreachable database stops Open.
	nocfg := cfg
	nocfg.SpoolDir = ""
	if _, err := store.Open(ctx, nocfg, nil); err == nil {
		t.Fatal("Open without a spool succeeded with the database down")
	}

	s, err := store.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("Open with a spool and the database down: %v", err)
	}
	add(t, s, chunk("od-", 0, 1234)...)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		t.Fatalf("Close during the outage: %v", err)
	}
	if st := s.Stats(); st.RowsSpooled != 1234 || st.RowsLost != 0 || st.SpoolRows != 1234 {
		t.Fatalf("after Close: %+v", st)
	}

	db.Start()
	s2 := open(t, cfg)
	add(t, s2, chunk("od-", 1234, 100)...)
	waitSettled(t, s2, 1334)
	if st := s2.Stats(); st.RowsReplayed != 1234 {
		t.Errorf("second store: %+v", st)
	}
	exactlyOnce(t, dsn, "od-", 1334)
}

// TestReplaySkipsCommittedRecords: records up to the position saved in
// hepd_progress (what a crash in the middle of a replay leaves) are not
// written again.
func TestReplaySkipsCommittedRecords(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	// Three records of 100 rows; the first holds the rows written directly
	// below. The replayer would commit its position.
	cfg, id, rec := spoolOffline(t, chunk("sk-", 0, 300))
	pos, rows := rec.Pos(), rec.Rows
	first := bytes.Contains(rec.Payload, []byte("sk-99")) && !bytes.Contains(rec.Payload, []byte("sk-299"))
	if rows != 100 || !first {
		t.Fatalf("first record has %d rows, sk-0 to sk-99: %v", rows, first)
	}

	// The first batch is in the database already, with its mark.
	cfg.DSN = dsn
	s := open(t, store.Config{DSN: dsn, BatchRows: 100, FlushInterval: time.Hour})
	add(t, s, chunk("sk-", 0, 100)...)
	waitSettled(t, s, 100)
	c := connect(t, dsn)
	if _, err := c.Exec(ctx, "INSERT INTO hepd_progress (id, seq) VALUES ($1, $2)", "spool-"+id, int64(pos)); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, cfg)
	waitFor(t, "the replay", func() bool { return s2.Stats().SpoolRows == 0 })
	if st := s2.Stats(); st.RowsReplaySkipped != 100 || st.RowsReplayed != 200 {
		t.Errorf("stats %+v, want 100 skipped and 200 replayed", st)
	}
	exactlyOnce(t, dsn, "sk-", 300)
}

// spoolOffline spools rows in records of 100 by opening a store whose
// database is unreachable (a closed port); one writer spools them in order.
// It returns that store's config, the spool's id and its first record.
func spoolOffline(t *testing.T, rows []store.Row) (store.Config, string, spool.Record) {
	t.Helper()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadDSN := fmt.Sprintf("postgres://nobody@%s/x?connect_timeout=2", ln.Addr())
	ln.Close()
	cfg := store.Config{DSN: deadDSN, BatchRows: 100, Writers: 1, FlushInterval: time.Hour, SpoolDir: t.TempDir(), SpoolMaxBytes: 64 << 20,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	s, err := store.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	add(t, s, rows...)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(cfg.SpoolDir, cfg.SpoolMaxBytes, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	rec, err := sp.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec.Payload = bytes.Clone(rec.Payload) // the spool's buffer
	return cfg, sp.ID(), rec
}

// TestSpillWhenDatabaseSlow: while the database cannot keep up (here: the
// table is locked), AddUnpausable does not block at MaxPending: batches
// spill to the spool and are replayed once the database catches up. Add
// (TCP) blocks instead, spilling nothing.
func TestSpillWhenDatabaseSlow(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	cfg := store.Config{DSN: dsn, BatchRows: 100, FlushInterval: 10 * time.Millisecond, MaxPending: 300,
		SpoolDir: t.TempDir(), SpoolMaxBytes: 64 << 20}
	s := open(t, cfg)
	tx := lockCalls(t, dsn)
	// Add pauses its caller at MaxPending, without spilling.
	added := 0
	for {
		actx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := s.Add(actx, chunk("sl-", added, 100))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if added += 100; added > 1000 {
			t.Fatalf("Add never blocked: %+v", s.Stats())
		}
	}
	if st := s.Stats(); st.RowsSpilled != 0 {
		t.Fatalf("Add spilled: %+v", st)
	}
	const n = 5000
	for i := added; i < n; i += 100 {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.AddUnpausable(actx, chunk("sl-", i, 100))
		cancel()
		if err != nil {
			t.Fatalf("AddUnpausable blocked with the database slow: %v (stats %+v)", err, s.Stats())
		}
	}
	st := s.Stats()
	if st.RowsSpilled == 0 || st.RowsCommitted != 0 {
		t.Errorf("while locked: %+v", st)
	}
	tx.Rollback(ctx)
	waitSettled(t, s, n)
	waitFor(t, "the spool to empty", func() bool { return s.Stats().SpoolRows == 0 })
	exactlyOnce(t, dsn, "sl-", n)
}

// TestRejectsKept: rows the database refuses land in hepd_rejects byte for
// byte, with the reason and SQLSTATE.
func TestRejectsKept(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, store.Config{DSN: dsn, BatchRows: 20, FlushInterval: time.Hour})
	var rows []store.Row
	for i := range 20 {
		r := sipRow("hep_proto_1_call", fmt.Sprint("rj-", i), time.Now())
		if i == 7 {
			r.Raw = []byte("nul \x00 byte")
		}
		if i == 12 {
			r.DataHeader = []byte(`{"broken`)
		}
		rows = append(rows, r)
	}
	add(t, s, rows...)
	waitSettled(t, s, 20)
	if st := s.Stats(); st.RowsRejected != 2 || st.RejectsStored != 2 {
		t.Fatalf("stats %+v", st)
	}
	c := connect(t, dsn)
	r, err := c.Query(context.Background(), "SELECT sid, table_name, sqlstate, reason, raw, data_header FROM hepd_rejects ORDER BY sid")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for r.Next() {
		var sid, raw, dh []byte
		var tbl, code, reason string
		if err := r.Scan(&sid, &tbl, &code, &reason, &raw, &dh); err != nil {
			t.Fatal(err)
		}
		if tbl != "hep_proto_1_call" || code == "" || reason == "" {
			t.Errorf("reject %s: table %q code %q reason %q", sid, tbl, code, reason)
		}
		switch string(sid) {
		case "rj-7":
			if !bytes.Equal(raw, []byte("nul \x00 byte")) {
				t.Errorf("raw of rj-7 is %q", raw)
			}
		case "rj-12":
			if string(dh) != `{"broken` {
				t.Errorf("data_header of rj-12 is %q", dh)
			}
		}
		got = append(got, string(sid))
	}
	if strings.Join(got, ",") != "rj-12,rj-7" {
		t.Errorf("rejects %v", got)
	}
	exactlyOnce(t, dsn, "rj-1", 10) // rj-1, rj-10..rj-19 less rj-12
}

// cutProxy relays TCP to the database and, once armed, cuts both
// directions right after forwarding a client message that contains
// "COMMIT": the server commits, the client never hears of it.
type cutProxy struct {
	ln    net.Listener
	to    string
	armed atomic.Bool
	cuts  atomic.Int32
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, to string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, to: to}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.relay(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) relay(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", p.to)
	if err != nil {
		return
	}
	defer u.Close()
	var cut atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := u.Read(buf)
			if cut.Load() {
				return // the answer to the COMMIT is dropped
			}
			if n > 0 {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				c.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	// The COMMIT travels in the query that opens the COPY; the server runs
	// it once the COPY's data has ended, so the cut follows CopyDone.
	copyDone := []byte{'c', 0, 0, 0, 4}
	var pending bool
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if p.armed.Load() && bytes.Contains(buf[:n], []byte("; COMMIT")) && p.armed.CompareAndSwap(true, false) {
				pending = true
			}
			last := pending && bytes.HasSuffix(buf[:n], copyDone)
			if last {
				cut.Store(true)
			}
			if _, werr := u.Write(buf[:n]); werr != nil {
				return
			}
			if last {
				p.cuts.Add(1)
				// Let the server read and run the COMMIT before the
				// connection goes away.
				time.Sleep(200 * time.Millisecond)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestLostCommitReplyNotDuplicated: when the connection dies after the
// COMMIT was sent, the store reads its progress row back and does not write
// the batch a second time.
func TestLostCommitReplyNotDuplicated(t *testing.T) {
	dsn := pgtest.DSN(t)
	c := connect(t, dsn)
	pc := c.PgConn()
	up := net.JoinHostPort(pc.Conn().RemoteAddr().(*net.TCPAddr).IP.String(), fmt.Sprint(pc.Conn().RemoteAddr().(*net.TCPAddr).Port))
	p := newCutProxy(t, up)
	viaProxy := strings.Replace(dsn, up, p.ln.Addr().String(), 1)
	if viaProxy == dsn {
		t.Fatalf("cannot point %s at the proxy", dsn)
	}
	s := open(t, store.Config{DSN: viaProxy, BatchRows: 100, FlushInterval: time.Hour, Writers: 1,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	add(t, s, chunk("lc-", 0, 100)...) // connects, warms up
	waitSettled(t, s, 100)
	p.armed.Store(true)
	add(t, s, chunk("lc-", 100, 100)...)
	waitSettled(t, s, 200)
	st := s.Stats()
	if p.cuts.Load() != 1 || st.CommitsUnknown != 1 || st.CommitsUnknownIn != 1 {
		t.Errorf("cuts %d, stats %+v: want one lost COMMIT reply, found committed", p.cuts.Load(), st)
	}
	exactlyOnce(t, dsn, "lc-", 200)
}

// TestSpoolDirErrors: a spool folder that cannot be used stops Open.
func TestSpoolDirErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	_, err := store.Open(context.Background(), store.Config{DSN: pgtest.DSN(t), SpoolDir: f}, nil)
	if err == nil || !strings.Contains(err.Error(), "spool") {
		t.Errorf("Open with a file as spool folder: %v", err)
	}
	_, err = store.Open(context.Background(), store.Config{DSN: pgtest.DSN(t), SpoolDir: t.TempDir(), SpoolMaxBytes: 1000}, nil)
	if err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("Open with a tiny spool: %v", err)
	}
}

// TestReplaySplitResumes: a replayed record the database refuses rows of
// is written in pieces, each committing how many of the record's rows are
// settled (a reject with its mark in one transaction); after a crash in the
// middle (the state of the database it leaves is made here by hand), the
// replay skips the settled rows, so no row and no reject is written twice.
func TestReplaySplitResumes(t *testing.T) {
	bad := map[int]bool{50: true, 99: true}
	for _, tc := range []struct {
		name    string
		settled int // rows of the record settled before the crash
	}{
		{"no crash", 0},
		{"crash before a bad row", 50},
		{"crash after its reject", 51},
		{"crash before the record's mark", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := pgtest.DSN(t)
			rows := chunk("ps-", 0, 100)
			for i := range bad {
				rows[i].Raw = []byte("nul \x00 byte")
			}
			cfg, id, rec := spoolOffline(t, rows)
			recKey, pos := "spool-"+id, int64(rec.Pos())
			key := fmt.Sprintf("%s/%d", recKey, pos)

			c := connect(t, dsn)
			if tc.settled > 0 {
				// What the pieces committed before the crash.
				live := open(t, store.Config{DSN: dsn, BatchRows: 100, FlushInterval: 10 * time.Millisecond})
				var good []store.Row
				for i, r := range rows[:tc.settled] {
					if !bad[i] {
						good = append(good, r)
						continue
					}
					if _, err := c.Exec(ctx, `INSERT INTO hepd_rejects (table_name, reason, sid, create_date, protocol_header, data_header, raw)
						VALUES ('hep_proto_1_call', 'test', $1, now(), '', '', '')`, r.SID); err != nil {
						t.Fatal(err)
					}
				}
				add(t, live, good...)
				waitSettled(t, live, uint64(len(good)))
				if _, err := c.Exec(ctx, "INSERT INTO hepd_progress (id, seq) VALUES ($1, $2)", key, tc.settled); err != nil {
					t.Fatal(err)
				}
			}

			cfg.DSN = dsn
			s2 := open(t, cfg)
			waitFor(t, "the replay", func() bool { return s2.Stats().SpoolRows == 0 })
			if st := s2.Stats(); st.RowsReplaySkipped != uint64(tc.settled) {
				t.Errorf("%d rows skipped, want %d", st.RowsReplaySkipped, tc.settled)
			}
			exactlyOnce(t, dsn, "ps-", 98)
			var rejects, distinct int
			if err := c.QueryRow(ctx, "SELECT count(*), count(DISTINCT sid) FROM hepd_rejects").Scan(&rejects, &distinct); err != nil {
				t.Fatal(err)
			}
			if rejects != 2 || distinct != 2 {
				t.Errorf("%d rejects (%d distinct), want the 2 bad rows once", rejects, distinct)
			}
			var got int64
			if err := c.QueryRow(ctx, "SELECT seq FROM hepd_progress WHERE id = $1", recKey).Scan(&got); err != nil || got != pos {
				t.Errorf("the spool's progress: %d, %v; want the record's position %d", got, err, pos)
			}
			// The last row is bad: only its reject's mark says all 100 rows are settled.
			if err := c.QueryRow(ctx, "SELECT seq FROM hepd_progress WHERE id = $1", key).Scan(&got); err != nil || got != 100 {
				t.Errorf("the pieces' progress: %d, %v; want all 100 rows settled", got, err)
			}
		})
	}
}
