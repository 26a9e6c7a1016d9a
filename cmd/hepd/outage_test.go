package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/store/pgtest"
)

// storeStats reads the store's counters from the admin API.
type storeStats struct {
	RowsCommitted, RowsSpooled, RowsReplayed, RowsLost uint64
	SpoolRows                                          int64
	DBDown                                             bool
}

func (h *hepdProc) storeStats(t *testing.T) storeStats {
	t.Helper()
	b, err := httpGet("http://" + h.admin + "/api/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Store storeStats }
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s.Store
}

func (h *hepdProc) waitStore(t *testing.T, what string, cond func(storeStats) bool) storeStats {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := h.storeStats(t)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v\n%s", what, s, h.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dbTotal counts the rows of every Homer table.
func dbTotal(t *testing.T, dsn string) int64 {
	t.Helper()
	var total int64
	for _, n := range tableCounts(t, connect(t, dsn)) {
		total += n
	}
	return total
}

// TestDatabaseOutageDuringTCPRun: PostgreSQL stops in the middle of a
// hepgen run over TCP and comes back later; hepd keeps accepting (the spool
// takes the batches), replays, and the database ends with exactly the
// messages hepgen sent.
func TestDatabaseOutageDuringTCPRun(t *testing.T) {
	db := pgtest.NewRestartable(t)
	hepd, hepgen := buildBin(t, "./cmd/hepd"), buildBin(t, "./cmd/hepgen")
	h := startHepd(t, hepd, map[string]string{"HEPD_DB_DSN": db.DSN()})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// 21,000 messages at 3,000/s: about 7 s, with the outage in the middle.
	gen := command(ctx, hepgen, "-json", "-transport", "tcp", "-calls", "3000", "-conns", "4", "-rate", "3000", h.hep.String())
	var out strings.Builder
	gen.Stdout = &out
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	h.waitStore(t, "rows before the outage", func(s storeStats) bool { return s.RowsCommitted >= 2000 })
	db.Stop()
	during := h.waitStore(t, "the spool to take batches", func(s storeStats) bool { return s.DBDown && s.RowsSpooled >= 3000 })
	db.Start()
	if err := gen.Wait(); err != nil {
		t.Fatalf("hepgen: %v", err)
	}
	var sum genSummary
	if err := json.Unmarshal([]byte(out.String()), &sum); err != nil || sum.Errors != 0 || sum.Total != 21000 {
		t.Fatalf("hepgen summary %q (%v)", out.String(), err)
	}
	after := h.waitStore(t, "every row committed and the spool empty", func(s storeStats) bool {
		return s.RowsCommitted >= uint64(sum.Total) && s.SpoolRows == 0
	})
	if code := h.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if got := dbTotal(t, db.DSN()); got != sum.Total {
		t.Errorf("database holds %d rows, hepgen sent %d", got, sum.Total)
	}
	if got := tableCounts(t, connect(t, db.DSN())); got["hep_proto_1_call"] != sum.Tables["hep_proto_1_call"] {
		t.Errorf("rows: %s, hepgen sent %v", fmtCounts(got), sum.Tables)
	}
	t.Logf("outage: %d rows spooled while down; after: %d committed, %d replayed", during.RowsSpooled, after.RowsCommitted, after.RowsReplayed)
	if after.RowsReplayed < during.RowsSpooled || after.RowsLost != 0 {
		t.Errorf("after the outage: %+v", after)
	}
}

// TestSIGTERMDuringOutage: hepd is stopped with SIGTERM while PostgreSQL is
// down and started again before it is back. The first hepd exits 0 with
// its batches in the spool; the second starts without the database,
// captures into the same spool, and replays everything once PostgreSQL
// returns: exactly the messages sent, in total.
func TestSIGTERMDuringOutage(t *testing.T) {
	db := pgtest.NewRestartable(t)
	hepd, hepgen := buildBin(t, "./cmd/hepd"), buildBin(t, "./cmd/hepgen")
	env := map[string]string{"HEPD_DB_DSN": db.DSN(), "HEPD_SPOOL_DIR": filepath.Join(t.TempDir(), "spool")}
	h := startHepd(t, hepd, env)

	var sent int64
	send := func(h *hepdProc, calls string) {
		s := runHepgen(t, hepgen, "-transport", "tcp", "-calls", calls, "-registers", "100", "-conns", "2", h.hep.String())
		if s.Errors != 0 {
			t.Fatalf("hepgen: %+v", s)
		}
		sent += s.Total
	}
	send(h, "300")
	h.waitStore(t, "the first run committed", func(s storeStats) bool { return s.RowsCommitted == uint64(sent) })
	db.Stop()
	send(h, "700") // into the spool
	h.waitStore(t, "the second run spooled", func(s storeStats) bool { return s.DBDown && s.RowsCommitted+uint64(s.SpoolRows) == uint64(sent) })
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM during the outage:\n%s", code, h.log.String())
	}
	final := h.finalCounts(t)
	if final["rows_lost"] != 0 || final["spool_rows"] == 0 || final["records"] != final["rows_committed"]+final["rows_spooled"] {
		t.Fatalf("final counts %v", final)
	}

	h2 := startHepd(t, hepd, env) // the database is still down
	h2.waitLog(t, "database unreachable at start", time.Second)
	send(h2, "500")
	h2.waitStore(t, "the third run spooled", func(s storeStats) bool { return uint64(s.SpoolRows) == uint64(sent)-uint64(300*7+100*4) })
	if out, code := ctl(t, hepd, h2, "", "db"); code != 0 || !strings.Contains(out, "unreachable") ||
		!regexp.MustCompile(fmt.Sprintf(`spool waiting\s+%d rows`, sent-300*7-100*4)).MatchString(out) {
		t.Errorf("hepd ctl db during the outage (exit %d):\n%s", code, out)
	}
	db.Start()
	h2.waitStore(t, "the spool replayed", func(s storeStats) bool { return !s.DBDown && s.SpoolRows == 0 })
	if got := dbTotal(t, db.DSN()); got != sent {
		t.Errorf("database holds %d rows, hepgen sent %d", got, sent)
	}
	if !strings.Contains(h2.log.String(), "spool replayed") {
		t.Errorf("no replay progress in the log:\n%s", h2.log.String())
	}
	if out, _ := ctl(t, hepd, h2, "", "db"); !regexp.MustCompile(`database\s+writing`).MatchString(out) ||
		!regexp.MustCompile(fmt.Sprintf(`replayed\s+%d rows`, sent-300*7-100*4)).MatchString(out) {
		t.Errorf("hepd ctl db after the replay:\n%s", out)
	}
	if code := h2.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestBackpressureWhenSpoolFull: with the database down and the spool
// disabled or full, hepd stops reading TCP once db_max_pending rows wait:
// the agent is held back by TCP flow control, nothing it sent is dropped,
// and everything lands once the database is back.
func TestBackpressureWhenSpoolFull(t *testing.T) {
	hepd, hepgen := buildBin(t, "./cmd/hepd"), buildBin(t, "./cmd/hepgen")
	for _, tc := range []struct{ name, spool, mb string }{
		{"spool disabled", "none", "4"},
		{"spool full", filepath.Join(t.TempDir(), "spool"), "4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := pgtest.NewRestartable(t)
			h := startHepd(t, hepd, map[string]string{"HEPD_DB_DSN": db.DSN(), "HEPD_SPOOL_DIR": tc.spool,
				"HEPD_SPOOL_MAX_MB": tc.mb, "HEPD_DB_MAX_PENDING": "1000", "HEPD_DB_BATCH_ROWS": "200"})
			db.Stop()

			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// 70,000 messages, about 70 MB: more than the kernel's socket
			// buffers hold, so hepgen must wait for hepd.
			gen := command(ctx, hepgen, "-json", "-transport", "tcp", "-calls", "10000", "-conns", "2", h.hep.String())
			var out strings.Builder
			gen.Stdout = &out
			if err := gen.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- gen.Wait() }()

			// Wait until hepd has stopped taking frames for a second.
			var frames, last uint64
			for still := 0; still < 20; {
				time.Sleep(50 * time.Millisecond)
				b, err := httpGet("http://" + h.admin + "/api/v1/stats")
				if err != nil {
					t.Fatal(err)
				}
				var s struct{ TCP struct{ Frames uint64 } }
				json.Unmarshal(b, &s)
				if frames = s.TCP.Frames; frames == last && frames > 0 {
					still++
				} else {
					still, last = 0, frames
				}
			}
			select {
			case err := <-done:
				t.Fatalf("hepgen finished (%v) with the database down: no backpressure", err)
			default:
			}
			st := h.storeStats(t)
			if frames > 15000 || st.RowsLost != 0 {
				t.Fatalf("paused after %d frames, store %+v", frames, st)
			}
			t.Logf("paused after %d frames: %d rows in memory or spool (%d spooled)", frames, frames, st.RowsSpooled)

			db.Start()
			if err := <-done; err != nil {
				t.Fatalf("hepgen: %v", err)
			}
			var sum genSummary
			if err := json.Unmarshal([]byte(out.String()), &sum); err != nil || sum.Errors != 0 || sum.Total != 70000 {
				t.Fatalf("hepgen summary %q (%v)", out.String(), err)
			}
			h.waitStore(t, "every row committed", func(s storeStats) bool {
				return s.RowsCommitted >= uint64(sum.Total) && s.SpoolRows == 0
			})
			if got := dbTotal(t, db.DSN()); got != sum.Total {
				t.Errorf("database holds %d rows, hepgen sent %d", got, sum.Total)
			}
			if code := h.stop(t); code != 0 {
				t.Errorf("exit code %d", code)
			}
		})
	}
}

// TestKill9KeepsSpool: what reached the spool survives hepd being killed
// with SIGKILL; the next hepd replays it without duplicates.
func TestKill9KeepsSpool(t *testing.T) {
	db := pgtest.NewRestartable(t)
	hepd, hepgen := buildBin(t, "./cmd/hepd"), buildBin(t, "./cmd/hepgen")
	env := map[string]string{"HEPD_DB_DSN": db.DSN(), "HEPD_SPOOL_DIR": filepath.Join(t.TempDir(), "spool")}
	h := startHepd(t, hepd, env)
	first := runHepgen(t, hepgen, "-transport", "tcp", "-calls", "200", h.hep.String())
	h.waitStore(t, "the first run committed", func(s storeStats) bool { return s.RowsCommitted == uint64(first.Total) })
	db.Stop()
	second := runHepgen(t, hepgen, "-transport", "tcp", "-calls", "500", "-conns", "2", h.hep.String())
	h.waitStore(t, "the second run in the spool", func(s storeStats) bool { return s.SpoolRows == second.Total })
	h.cmd.Process.Kill()
	<-h.done

	db.Start()
	h2 := startHepd(t, hepd, env)
	h2.waitStore(t, "the replay", func(s storeStats) bool { return s.SpoolRows == 0 && s.RowsReplayed == uint64(second.Total) })
	if got := dbTotal(t, db.DSN()); got != first.Total+second.Total {
		t.Errorf("database holds %d rows, hepgen sent %d", got, first.Total+second.Total)
	}
	if code := h2.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
