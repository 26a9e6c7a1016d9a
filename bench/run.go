package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hepd/hepd/store/pgcluster"
)

// sipTables are where hepgen's traffic lands.
var sipTables = []string{"hep_proto_1_call", "hep_proto_1_registration", "hep_proto_1_default"}

// bench holds what every scenario shares.
type bench struct {
	root, tmp    string
	hepd, hepgen string
	cluster      *pgcluster.Cluster
	postmaster   int
	ticks        float64
	machine      machine
	out          string // report folder
	stderr       io.Writer
	keep         bool
	ceilingOrder string
	pprofSeconds int
	udpRcvBuf    string
	started      time.Time
	profileFile  string
	profileTop   string

	// prev holds, per scenario, the rows its last round stored and how
	// many sessions wrote them: the next round writes them as its ceiling
	// before hepd's phase.
	prev map[string]ceilingData
}

type ceilingData struct {
	rows      []ceilRows
	sessions  int
	batchRows int // rows per COPY: the mean of hepd's, whose batches grow behind a backlog
}

// count is how many rows d holds.
func (d ceilingData) count() int {
	n := 0
	for _, t := range d.rows {
		n += len(t.rows)
	}
	return n
}

func newBench(ctx context.Context, root string, o options, stderr io.Writer) (*bench, error) {
	b := &bench{root: root, stderr: stderr, keep: o.keep, ceilingOrder: o.ceilingOrder, ticks: clockTicks(), pprofSeconds: o.pprofSeconds,
		out: o.outDir(root), started: time.Now()}
	tmp, err := os.MkdirTemp("", "hepd-bench-")
	if err != nil {
		return nil, err
	}
	// The postgres user (the server's owner when we run as root) must
	// traverse the folder to reach its data directory inside.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	b.tmp = tmp
	b.logf("building hepd and hepgen into %s", tmp)
	if b.hepd, err = hepdBinary(ctx, root, tmp, o.hepdBin); err != nil {
		b.close()
		return nil, err
	}
	if b.hepgen, err = build(ctx, root, "./cmd/hepgen", tmp); err != nil {
		b.close()
		return nil, err
	}
	// Durable settings (Throwaway false): fsync and synchronous commit as
	// a production server has them, or the ceiling would not be one.
	settings, err := parseSettings(o.pgSettings)
	if err != nil {
		b.close()
		return nil, err
	}
	b.cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(tmp, "data"), Database: "postgres", Settings: settings})
	if err != nil {
		b.close()
		return nil, err
	}
	if b.postmaster, err = postmasterPID(b.cluster.Dir()); err != nil {
		b.close()
		return nil, err
	}
	b.udpRcvBuf = strconv.Itoa(o.udpRcvBuf)
	if os.Geteuid() != 0 { // only root may exceed net.core.rmem_max
		if v, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil {
			if m, err := strconv.Atoi(strings.TrimSpace(string(v))); err == nil && m < o.udpRcvBuf {
				b.udpRcvBuf = strconv.Itoa(m)
			}
		}
	}
	b.machine = machine{CPUs: runtimeCPUs(), CPUModel: cpuModel(), MemGiB: memGiB(), Kernel: kernel(), Go: goVersion()}
	if conn, err := pgx.Connect(ctx, b.cluster.DSN()); err == nil {
		conn.QueryRow(ctx, "SHOW server_version").Scan(&b.machine.Postgres)
		conn.Close(ctx)
	}
	b.logf("PostgreSQL %s running in %s (postmaster pid %d)", b.machine.Postgres, b.cluster.Dir(), b.postmaster)
	return b, nil
}

func (b *bench) close() {
	if b.cluster != nil {
		if err := b.cluster.Stop(context.Background()); err != nil {
			b.logf("stop PostgreSQL: %v", err)
		}
	}
	if b.tmp != "" && !b.keep {
		os.RemoveAll(b.tmp)
	}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "%7.1fs "+format+"\n", append([]any{time.Since(b.started).Seconds()}, args...)...)
}

// runResult is one scenario's figures.
type runResult struct {
	scenario
	Sent          int     `json:"sent"`
	SendSeconds   float64 `json:"send_seconds"`
	Stored        int64   `json:"stored"`
	Seconds       float64 `json:"seconds"` // first message sent → last row committed
	StoredRate    float64 `json:"stored_per_s"`
	HepdCPU       float64 `json:"hepd_cpu_s"`
	PGCPU         float64 `json:"pg_cpu_s"`
	HepgenCPU     float64 `json:"hepgen_cpu_s"`
	HepdCPUPerM   float64 `json:"hepd_cpu_s_per_million"`
	PGCPUPerM     float64 `json:"pg_cpu_s_per_million"`
	HepdPeakRSSMB float64 `json:"hepd_peak_rss_mib"`
	LatencyRows   uint64  `json:"latency_rows"`
	LatencyP50ms  float64 `json:"latency_p50_ms"`
	LatencyP99ms  float64 `json:"latency_p99_ms"`
	LatencyMaxms  float64 `json:"latency_max_ms"`
	Spilled       uint64  `json:"rows_spilled"`   // went through the spool: the database could not keep up
	CopyRows      float64 `json:"mean_copy_rows"` // rows per COPY hepd committed
	UDPDatagrams  uint64  `json:"udp_datagrams,omitempty"`
	UDPDrops      uint64  `json:"udp_socket_drops"`
	UDPRecvRate   float64 `json:"udp_received_per_s,omitempty"`
	Autovacuums   int     `json:"autovacuums"` // autovacuum runs on the SIP tables during the phase (finished, or busy at its end)
	Load1Start    float64 `json:"load1_start"`
	Load1End      float64 `json:"load1_end"`

	CeilingRows        int     `json:"ceiling_rows,omitempty"`
	CeilingSeconds     float64 `json:"ceiling_seconds,omitempty"`
	CeilingRate        float64 `json:"ceiling_rows_per_s,omitempty"`
	CeilingPGCPUPerM   float64 `json:"ceiling_pg_cpu_s_per_million,omitempty"`
	CeilingAutovacuums int     `json:"ceiling_autovacuums,omitempty"`
	Ratio              float64 `json:"ratio_to_ceiling,omitempty"`
	// The ceiling phases the figures above sum: before hepd's phase (the
	// previous round's rows, or the warm-up's; absent in the first round
	// without a warm-up) and after it.
	CeilingBefore *ceilingPhase `json:"ceiling_before,omitempty"`
	CeilingAfter  *ceilingPhase `json:"ceiling_after,omitempty"`
}

func (r *runResult) summary() string {
	s := fmt.Sprintf("stored %d in %.2fs = %.0f/s; CPU-s per million: hepd %.2f, PostgreSQL %.2f; peak RSS %.0f MiB; commit latency p50 %.0f ms p99 %.0f ms",
		r.Stored, r.Seconds, r.StoredRate, r.HepdCPUPerM, r.PGCPUPerM, r.HepdPeakRSSMB, r.LatencyP50ms, r.LatencyP99ms)
	if r.Spilled > 0 {
		s += fmt.Sprintf("; %d rows through the spool", r.Spilled)
	}
	if r.Transport == "udp" {
		s += fmt.Sprintf("; UDP: %d datagrams received (%.0f/s), %d socket drops", r.UDPDatagrams, r.UDPRecvRate, r.UDPDrops)
	}
	if r.CeilingRate > 0 {
		s += fmt.Sprintf("; ceiling %.0f rows/s%s (PostgreSQL %.2f CPU-s/M), ratio %.3f; autovacuum runs %d, in the ceiling %d",
			r.CeilingRate, r.ceilingSides(), r.CeilingPGCPUPerM, r.Ratio, r.Autovacuums, r.CeilingAutovacuums)
	}
	return s
}

// ceilingSides shows the ceiling's rate before and after hepd's phase, when
// it ran on both sides.
func (r *runResult) ceilingSides() string {
	if r.CeilingBefore == nil || r.CeilingAfter == nil {
		return ""
	}
	return fmt.Sprintf(" (%.0f before, %.0f after)", r.CeilingBefore.Rate, r.CeilingAfter.Rate)
}

func (b *bench) cpuSnapshot(hepdPID int) (hepd, pg uint64, err error) {
	if hepdPID > 0 {
		if hepd, err = processCPU(hepdPID); err != nil {
			return 0, 0, err
		}
	}
	pg, err = clusterCPU(b.postmaster)
	return hepd, pg, err
}

// hepdBinary returns given, a hepd built elsewhere (to set two builds side
// by side), as an absolute path, or builds ./cmd/hepd into dir.
func hepdBinary(ctx context.Context, root, dir, given string) (string, error) {
	if given == "" {
		return build(ctx, root, "./cmd/hepd", dir)
	}
	path, err := filepath.Abs(given)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("-hepd-bin: %w", err)
	} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("-hepd-bin: %s is not an executable file", path)
	}
	return path, nil
}

func (b *bench) seconds(ticks uint64) float64 { return float64(ticks) / b.ticks }

func (b *bench) runScenario(ctx context.Context, sc scenario, profile bool) (*runResult, error) {
	r := &runResult{scenario: sc}
	db := "bench_" + strings.ReplaceAll(sc.Name, "-", "_")
	admin, err := pgx.Connect(ctx, b.cluster.DSN())
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return nil, err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	dsn := b.cluster.DSNFor(db)

	env := map[string]string{
		"HEPD_DB_DSN":                dsn,
		"HEPD_DB_BATCH_ROWS":         strconv.Itoa(sc.BatchRows),
		"HEPD_DB_WRITERS":            strconv.Itoa(sc.Writers),
		"HEPD_DB_FLUSH_MS":           strconv.Itoa(sc.FlushMS),
		"HEPD_DB_INDEX_PROFILE":      sc.Profile,
		"HEPD_DB_SYNCHRONOUS_COMMIT": map[bool]string{true: "yes", false: "no"}[sc.SyncCommit],
		"HEPD_UDP_RCVBUF":            b.udpRcvBuf,
	}
	if sc.MaxPending > 0 {
		env["HEPD_DB_MAX_PENDING"] = strconv.Itoa(sc.MaxPending)
	}
	// hepd's default: a disk spool, which also takes the batches the
	// database cannot keep up with.
	spoolDir, err := os.MkdirTemp("", "hepd-bench-spool-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(spoolDir)
	env["HEPD_SPOOL_DIR"] = spoolDir
	h, err := startHepd(ctx, b.hepd, env)
	if err != nil {
		return nil, err
	}
	defer func() {
		if h != nil {
			h.kill()
		}
	}()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The machine's speed drifts from minute to minute (it is shared), so
	// the ceiling runs on both sides of hepd's phase when there are rows
	// to write: before it, those of the previous round.
	if p, ok := b.prev[sc.Name]; ok && sc.Ceiling {
		ph, err := b.ceilingPhase(ctx, conn, dsn, sc, p)
		if err != nil {
			return nil, err
		}
		r.CeilingBefore = &ph
	}
	// Start every phase from empty tables and a clean checkpoint, so one
	// phase's dirty buffers are not written during the next one.
	if _, err := conn.Exec(ctx, "TRUNCATE "+strings.Join(sipTables, ", ")); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return nil, err
	}

	calls, regs, opts := mix(sc.Messages)
	gargs := []string{"-json", "-transport", sc.Transport, "-calls", strconv.Itoa(calls), "-registers", strconv.Itoa(regs),
		"-options", strconv.Itoa(opts), "-conns", strconv.Itoa(sc.Conns), "-rate", strconv.Itoa(sc.Rate),
		"-gso=" + strconv.FormatBool(sc.GSO), h.hep}
	planned := 7*calls + 4*regs + 2*opts

	r.Load1Start = loadAvg()
	av0, err := autovacuumRuns(ctx, conn)
	if err != nil {
		return nil, err
	}
	hepd0, pg0, err := b.cpuSnapshot(h.pid())
	if err != nil {
		return nil, err
	}
	start := time.Now()
	gen := exec.CommandContext(ctx, b.hepgen, gargs...)
	var gout, gerr bytes.Buffer
	gen.Stdout, gen.Stderr = &gout, &gerr
	if err := gen.Start(); err != nil {
		return nil, err
	}
	genDone := make(chan error, 1)
	go func() { genDone <- gen.Wait() }()
	profDone := make(chan error, 1)
	if profile {
		b.profileFile = filepath.Join(b.out, "hepd-cpu-"+start.UTC().Format("20060102-150405")+".pprof")
		os.MkdirAll(b.out, 0o755)
		go func() {
			time.Sleep(500 * time.Millisecond) // past connection set-up
			profDone <- h.profile(time.Duration(b.pprofSeconds)*time.Second, b.profileFile)
		}()
	}

	// Progress is polled from hepd's committed counter (rows whose COPY
	// committed), not with count(*): counting a growing table 100 times a
	// second would load the very server being measured. The database's
	// count is checked once at the end and must agree. How often: see
	// pollWait.
	var (
		gres       hepgenResult
		genExited  bool
		last       hepdStats
		lastChange = start
		lastPoll   = start
		wait       = pollFast
		end        time.Time
		hepd1, pg1 uint64
	)
	for end.IsZero() {
		select {
		case err := <-genDone:
			genExited = true
			if jerr := json.Unmarshal(gout.Bytes(), &gres); jerr != nil {
				return nil, fmt.Errorf("hepgen: %v %v\n%s%s", err, jerr, gout.String(), gerr.String())
			}
			if ru, ok := gen.ProcessState.SysUsage().(*syscall.Rusage); ok {
				gres.cpu = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
			}
			if sc.Transport == "tcp" && gres.Total != planned {
				return nil, fmt.Errorf("hepgen sent %d of %d messages: %s", gres.Total, planned, gres.Error)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		st, err := h.stats()
		if err != nil {
			return nil, err
		}
		now := time.Now()
		if st.Store.RowsCommitted != last.Store.RowsCommitted {
			lastChange = now
		}
		target := uint64(planned)
		if genExited {
			target = uint64(gres.Total)
		}
		wait = pollWait(target-min(target, st.Store.RowsCommitted), st.Store.RowsCommitted-last.Store.RowsCommitted, now.Sub(lastPoll))
		last, lastPoll = st, now
		switch {
		case st.Store.RowsCommitted >= target && genExited:
			end = lastChange
		case sc.Transport == "udp" && genExited && st.Store.RowsPending == 0 && st.Store.SpoolRows == 0 && now.Sub(lastChange) > 2*time.Second:
			end = lastChange // datagrams were lost: what arrived is in
		case sc.Transport == "tcp" && now.Sub(lastChange) > time.Minute:
			return nil, fmt.Errorf("no progress for a minute at %d of %d rows:\n%s", st.Store.RowsCommitted, target, h.log.String())
		}
		if !end.IsZero() {
			if hepd1, pg1, err = b.cpuSnapshot(h.pid()); err != nil {
				return nil, err
			}
		}
	}
	r.Load1End = loadAvg()
	if r.Autovacuums, err = autovacuumRuns(ctx, conn); err != nil {
		return nil, err
	}
	r.Autovacuums -= av0
	r.Sent, r.SendSeconds = gres.Total, gres.Seconds
	r.Seconds = end.Sub(start).Seconds()
	r.HepdCPU, r.PGCPU, r.HepgenCPU = b.seconds(hepd1-hepd0), b.seconds(pg1-pg0), gres.cpu.Seconds()
	if rss, err := peakRSS(h.pid()); err == nil {
		r.HepdPeakRSSMB = float64(rss) / (1 << 20)
	}
	r.Spilled = last.Store.RowsSpilled
	if last.Store.Batches > 0 {
		r.CopyRows = float64(last.Store.RowsCommitted) / float64(last.Store.Batches)
	}
	r.LatencyRows = last.Store.CommitLatencyRows
	r.LatencyP50ms = float64(last.Store.CommitLatencyP50) / 1e6
	r.LatencyP99ms = float64(last.Store.CommitLatencyP99) / 1e6
	r.LatencyMaxms = float64(last.Store.CommitLatencyMax) / 1e6
	if sc.Transport == "udp" {
		r.UDPDatagrams = last.UDP.Datagrams
		r.UDPRecvRate = float64(r.UDPDatagrams) / gres.Seconds
		port, _ := strconv.Atoi(h.hep[strings.LastIndexByte(h.hep, ':')+1:])
		if r.UDPDrops, err = udpDrops(port); err != nil {
			return nil, err
		}
	}
	if profile {
		if err := <-profDone; err != nil {
			b.logf("   pprof: %v", err)
			b.profileFile = ""
		} else {
			b.profileTop = pprofTop(ctx, b.hepd, b.profileFile)
		}
	}
	if err := h.stop(); err != nil {
		return nil, err
	}
	h = nil
	stored, err := countRows(ctx, conn)
	if err != nil {
		return nil, err
	}
	if uint64(stored) != last.Store.RowsCommitted {
		return nil, fmt.Errorf("the database holds %d rows, hepd reported %d committed", stored, last.Store.RowsCommitted)
	}
	r.Stored = stored
	r.StoredRate = float64(stored) / r.Seconds
	r.HepdCPUPerM = r.HepdCPU / float64(stored) * 1e6
	r.PGCPUPerM = r.PGCPU / float64(stored) * 1e6

	if sc.Ceiling {
		d, err := b.keepRows(ctx, conn, sc, r)
		if err != nil {
			return nil, err
		}
		if sc.Round > 0 { // the warm-up only keeps its rows for round 1
			if err := b.ceiling(ctx, conn, dsn, sc, r, d); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// autovacuumRuns counts autovacuum's work on the SIP partitions: the
// vacuums and analyzes finished so far, plus the workers busy in this
// database now. Autovacuum wakes once a minute per database, so it may land
// in one phase and not the other; the report shows where it did.
func autovacuumRuns(ctx context.Context, conn *pgx.Conn) (int, error) {
	var n int
	err := conn.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0)::int FROM pg_stat_all_tables WHERE relname LIKE 'hep\_proto\_1\_%')
		+ (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = current_database())`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("autovacuum runs: %w", err)
	}
	return n, nil
}

// The progress loop's two paces, see pollWait.
const (
	pollFast = 20 * time.Millisecond
	pollSlow = 500 * time.Millisecond
)

// pollWait is how long the progress loop waits before its next look at
// hepd's counters, given the rows still to come and the rows committed in
// the elapsed time since the previous look. A look costs hepd CPU, which is
// being measured too (an HTTP request and its stats as JSON, 0.4–0.9 ms): at
// 20 looks a second it was 7.5% of hepd's CPU in a tcp-homer round (pprof,
// 2026-11-30 05:35). So the loop looks twice a second while the end is more
// than a second away at the last pace, and every 20 ms when it may be near
// (or nothing was committed since the last look), which keeps the end of a
// run within 20 ms of its last commit.
func pollWait(remaining, committed uint64, elapsed time.Duration) time.Duration {
	if remaining == 0 || committed == 0 || elapsed <= 0 {
		return pollFast
	}
	if float64(remaining)/float64(committed)*elapsed.Seconds() < 1 {
		return pollFast
	}
	return pollSlow
}

func countRows(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var total int64
	for _, t := range sipTables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// ceilingPhase is one run of the ceiling: the rows of d written again with
// bare CopyFrom into the same (truncated) tables and indexes, in COPYs of
// the mean size hepd's had (at least the scenario's batch size), with its
// synchronous_commit, on d's number of sessions.
type ceilingPhase struct {
	Rows        int     `json:"rows"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"rows_per_s"`
	PGCPUPerM   float64 `json:"pg_cpu_s_per_million"`
	Autovacuums int     `json:"autovacuums"`
}

func (b *bench) ceilingPhase(ctx context.Context, conn *pgx.Conn, dsn string, sc scenario, d ceilingData) (ceilingPhase, error) {
	var ph ceilingPhase
	n := d.count()
	if _, err := conn.Exec(ctx, "TRUNCATE "+strings.Join(sipTables, ", ")); err != nil {
		return ph, err
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return ph, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return ph, err
	}
	cfg.RuntimeParams["application_name"] = "bench-ceiling"
	if !sc.SyncCommit {
		cfg.RuntimeParams["synchronous_commit"] = "off"
	}
	av0, err := autovacuumRuns(ctx, conn)
	if err != nil {
		return ph, err
	}
	_, pg0, err := b.cpuSnapshot(0)
	if err != nil {
		return ph, err
	}
	b.logf("   ceiling: %d rows, batches of %d, %d connections, %s order", n, d.batchRows, d.sessions, b.ceilingOrder)
	el, err := ceilingRun(ctx, cfg, d.rows, d.batchRows, d.sessions, b.ceilingOrder)
	if err != nil {
		return ph, err
	}
	_, pg1, err := b.cpuSnapshot(0)
	if err != nil {
		return ph, err
	}
	if ph.Autovacuums, err = autovacuumRuns(ctx, conn); err != nil {
		return ph, err
	}
	ph.Autovacuums -= av0
	stored, err := countRows(ctx, conn)
	if err != nil {
		return ph, err
	}
	if stored != int64(n) {
		return ph, fmt.Errorf("ceiling: the database holds %d rows, %d were written", stored, n)
	}
	ph.Rows, ph.Seconds = n, el.Seconds()
	ph.Rate = float64(n) / el.Seconds()
	ph.PGCPUPerM = b.seconds(pg1-pg0) / float64(n) * 1e6
	return ph, nil
}

// keepRows reads back the rows hepd stored in r and keeps them as the
// scenario's ceiling before hepd's phase of the next round.
func (b *bench) keepRows(ctx context.Context, conn *pgx.Conn, sc scenario, r *runResult) (ceilingData, error) {
	rows, err := loadRows(ctx, conn, sipTables)
	if err != nil {
		return ceilingData{}, err
	}
	// As many sessions as hepd used: its writers, and its spool's
	// replayer when batches went through the spool.
	d := ceilingData{rows: rows, sessions: sc.Writers, batchRows: max(sc.BatchRows, int(math.Round(r.CopyRows)))}
	if r.Spilled > 0 {
		d.sessions++
	}
	if b.prev == nil {
		b.prev = map[string]ceilingData{}
	}
	b.prev[sc.Name] = d
	return d, nil
}

// ceiling writes d, the rows hepd stored, again (the ceiling after hepd's
// phase) and sets the ratio: hepd's rate against all the rows of the
// ceiling phases on both sides of it over their time, or against the one
// after when there was none before.
func (b *bench) ceiling(ctx context.Context, conn *pgx.Conn, dsn string, sc scenario, r *runResult, d ceilingData) error {
	after, err := b.ceilingPhase(ctx, conn, dsn, sc, d)
	if err != nil {
		return err
	}
	r.CeilingAfter = &after
	phases := []*ceilingPhase{&after}
	if r.CeilingBefore != nil {
		phases = append(phases, r.CeilingBefore)
	}
	var rowsAll int
	var secs, cpu float64
	for _, ph := range phases {
		rowsAll += ph.Rows
		secs += ph.Seconds
		cpu += ph.PGCPUPerM * float64(ph.Rows)
		r.CeilingAutovacuums += ph.Autovacuums
	}
	r.CeilingRows, r.CeilingSeconds = rowsAll, secs
	r.CeilingRate = float64(rowsAll) / secs
	r.CeilingPGCPUPerM = cpu / float64(rowsAll)
	r.Ratio = r.StoredRate / r.CeilingRate
	return nil
}

// pprofTop renders the top of a CPU profile as text.
func pprofTop(ctx context.Context, bin, file string) string {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=30", bin, file).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v\n%s", err, out)
	}
	return string(out)
}

func runtimeCPUs() int {
	n := 0
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "processor") {
			n++
		}
	}
	return n
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// parseSettings reads -pg: name=value pairs separated by commas.
func parseSettings(s string) (map[string]string, error) {
	m := map[string]string{}
	for kv := range strings.SplitSeq(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("-pg: %q is not name=value", kv)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}
