package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hepd/hepd/internal/ratelog"
	"github.com/hepd/hepd/migrations"
	"github.com/hepd/hepd/store/spool"
)

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("store: closed")

// Store batches rows and writes them with COPY. It is safe for concurrent
// use.
type Store struct {
	cfg     *settings
	connCfg *pgx.ConnConfig // maintenance session
	wrCfg   *pgx.ConnConfig // writer sessions: connCfg plus AsyncCommit
	log     *slog.Logger
	rlog    *ratelog.Logger
	parts   partitions
	stats   counters

	mu         sync.Mutex
	work       *sync.Cond          // signalled when ready gets a batch or on close
	cur        [len(tables)]*batch // filling
	ready      []*batch            // sealed, waiting for a writer
	free       []*batch            // for reuse
	freeBytes  int                 // capacity of the arenas in free
	busy       int                 // batches taken from ready and not yet done (writers' and the spiller's)
	space      chan struct{}       // closed when pending drops below MaxPending; nil if nobody waits
	spilling   bool                // the spiller holds a batch that may come back to ready
	unpausable int                 // AddUnpausable calls waiting for space: the spiller makes it
	pending    int                 // rows added and not yet committed, rejected or lost
	rowSize    int                 // bytes per row of the last full batch: sizes new arenas
	closed     bool

	runCtx    context.Context // ends when Close gives up: writers stop retrying
	cancelRun context.CancelFunc
	stopLoops context.CancelFunc // the loops: flush ticker, maintenance, BRIN summarising
	writers   sync.WaitGroup
	loops     sync.WaitGroup

	maintMu   sync.Mutex // one maintenance or summarising round at a time
	maintConn *pgx.Conn

	brinMu    sync.Mutex
	brinDirty map[string]int // partitions with BRIN indexes written since the last summarising round → table

	spool    *spool.Spool // nil when disabled
	spoolMu  sync.Mutex   // spoolBuf
	spoolBuf []byte
	spill    *sync.Cond  // wakes the spiller: Add is about to block
	down     atomic.Bool // the database failed a write: spool without trying it
	dbReady  atomic.Bool // migrations applied (Open could reach the database)
	rejectMu sync.Mutex  // the rejects file
}

type counters struct {
	added, committed, rejected, lost atomic.Uint64
	spooled, spilled, replayed       atomic.Uint64
	replaySkipped, spoolUnreadable   atomic.Uint64
	rejectsStored, rejectsFiled      atomic.Uint64
	ambiguous, ambiguousIn           atomic.Uint64
	batches, copyErrors, flushes     atomic.Uint64
	partitionsCreated                atomic.Uint64
	partitionsDropped                atomic.Uint64
	brinRanges                       atomic.Uint64
	latencySum, latencyMax           atomic.Int64
	commit                           latencyHist // Add → COPY committed, per row
}

// Stats is a snapshot of a Store's counters, cumulative since Open.
type Stats struct {
	RowsAdded     uint64 // accepted by Add
	RowsCommitted uint64 // in the database
	RowsRejected  uint64 // refused by the database for their content (see doc)
	RowsLost      uint64 // still unwritten when Close gave up, and no spool took them
	RowsPending   int    // in memory: accepted, not yet committed, rejected, spooled or lost

	// Rejected rows kept in the hepd_rejects table, and those that went to
	// the rejects file because that insert failed too.
	RejectsStored uint64
	RejectsFiled  uint64

	// The disk spool (all zero when disabled).
	DBDown              bool   // the last write failed: batches go to the spool (if any) until one succeeds
	RowsSpooled         uint64 // written to the spool since Open
	RowsSpilled         uint64 // of those, spooled because the database could not keep up
	RowsReplayed        uint64 // committed from the spool since Open (in RowsCommitted too)
	RowsReplaySkipped   uint64 // in the spool but found committed already (a restart or lost COMMIT reply)
	RowsSpoolUnreadable uint64 // in records this hepd cannot decode; the segment is kept aside
	SpoolRows           int64  // in the spool now, waiting for replay
	SpoolBytes          int64
	SpoolSegments       int
	SpoolFullRefusals   uint64 // batches the spool had no room for (held in memory instead)
	SpoolCorruptSkips   uint64 // damaged segments moved aside

	// COMMITs whose reply was lost with the connection, and how many of
	// them turned out to have committed (not written again).
	CommitsUnknown   uint64
	CommitsUnknownIn uint64

	Batches    uint64 // COPY statements committed
	CopyErrors uint64 // attempts to write a batch (connect, partition, COPY) that failed

	PartitionsCreated uint64
	PartitionsDropped uint64

	RangesSummarized uint64 // block ranges of the BRIN indexes summarised by hepd (see SummarizeBRIN)

	// A flush is one batch, from being handed to a writer until every row
	// is committed or rejected; waiting for the database counts.
	Flushes         uint64
	FlushLatencySum time.Duration
	FlushLatencyMax time.Duration

	// Per committed row, from the Store.Add call that brought it (which
	// the pipeline makes within the socket read that received it) until
	// its COPY committed: quantiles of a histogram with 6% resolution,
	// upper bounds.
	CommitLatencyRows uint64
	CommitLatencyP50  time.Duration
	CommitLatencyP99  time.Duration
	CommitLatencyMax  time.Duration
}

// Open connects, applies the migrations, creates the partitions of
// yesterday, today, tomorrow and the day after, and starts the writers and
// the maintenance loop. log may be nil.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	st, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cc, err := pgx.ParseConfig(st.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: DSN: %w", err)
	}
	// Partition bounds are read back as text; in UTC they end in +00
	// whatever the database's or the process's zone.
	cc.RuntimeParams["timezone"] = "UTC"
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "hepd"
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 5 * time.Second
	}
	wc := cc.Copy()
	if st.AsyncCommit {
		wc.RuntimeParams["synchronous_commit"] = "off"
	}
	s := &Store{cfg: st, connCfg: cc, wrCfg: wc, log: log, rlog: ratelog.New(log, 10*time.Second), brinDirty: map[string]int{}}
	s.work = sync.NewCond(&s.mu)
	s.spill = sync.NewCond(&s.mu)
	if st.SpoolDir != "" {
		sp, err := spool.Open(st.SpoolDir, st.SpoolMaxBytes, log)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		s.spool = sp
		if n := sp.Stats().Rows; n > 0 {
			log.Info("store: spool holds rows from before, replaying them", "dir", st.SpoolDir, "rows", n)
		}
	}

	conn, err := pgx.ConnectConfig(ctx, cc)
	if err == nil {
		if err = s.prepare(ctx, conn); err != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}
	if err != nil {
		// Unreachable is not fatal when there is a spool to capture into;
		// an answer from the server (wrong password, no such database, no
		// privilege) is, as is anything without a spool.
		var pgErr *pgconn.PgError
		if s.spool == nil || errors.As(err, &pgErr) || ctx.Err() != nil {
			if s.spool != nil {
				s.spool.Close()
			}
			return nil, fmt.Errorf("store: %w", err)
		}
		log.Warn("store: database unreachable at start, capturing into the spool until it answers",
			"dir", st.SpoolDir, "err", err)
		s.down.Store(true)
	} else {
		s.maintConn = conn
		s.dbReady.Store(true)
	}

	s.runCtx, s.cancelRun = context.WithCancel(context.Background())
	var loopCtx context.Context
	loopCtx, s.stopLoops = context.WithCancel(context.Background())
	for range st.Writers {
		s.writers.Add(1)
		go s.writer()
	}
	s.loops.Add(2)
	go s.every(loopCtx, st.FlushInterval, s.tick)
	go s.every(loopCtx, st.MaintenanceInterval, s.maintain)
	if slices.ContainsFunc(st.brin[:], func(b []string) bool { return len(b) > 0 }) {
		s.loops.Add(1)
		go s.every(loopCtx, st.SummarizeInterval, s.summarize)
	}
	if s.spool != nil {
		s.loops.Add(2)
		go s.replayer(loopCtx)
		go s.spiller()
	}
	return s, nil
}

// prepare applies the migrations, creates the partitions of yesterday,
// today, tomorrow and the day after, and marks the partitions written
// before for summarising (see noteExisting).
func (s *Store) prepare(ctx context.Context, conn *pgx.Conn) error {
	if err := migrations.Apply(ctx, conn); err != nil {
		return err
	}
	if err := autosummarizeOff(ctx, conn); err != nil {
		return err
	}
	if m := serverMajor(conn); s.leanWithoutBloom(m) {
		s.log.Info("store: PostgreSQL before 14 has no BRIN bloom filters: the lean profile gives the users "+
			"(from_user, to_user; ISUP called_number, calling_number) hash indexes instead", "server_major", m)
	}
	now := time.Now()
	if err := s.ensureDays(ctx, conn, now.AddDate(0, 0, -1), 4); err != nil {
		return fmt.Errorf("create partitions: %w", err)
	}
	s.noteExisting(now)
	return nil
}

// Add queues rows for writing, copying their bytes, so the caller may reuse
// its buffers when Add returns. It blocks while Config.MaxPending rows are
// pending; a call is all or nothing, so pending may exceed MaxPending by at
// most len(rows)-1. It returns ctx.Err() if ctx ends while blocked (no row of
// the call is then queued), an error naming an unknown table (no row queued),
// or ErrClosed.
func (s *Store) Add(ctx context.Context, rows []Row) error { return s.add(ctx, rows, false) }

// AddUnpausable is Add for a reader that loses data while it waits (a UDP
// socket overflows; TCP would hold its sender back instead). When it would
// block, sealed batches are moved to the disk spool, if there is one with
// room, to make space at once; otherwise it blocks as Add does.
func (s *Store) AddUnpausable(ctx context.Context, rows []Row) error { return s.add(ctx, rows, true) }

func (s *Store) add(ctx context.Context, rows []Row, unpausable bool) error {
	for i := range rows {
		if tableIndex(rows[i].Table) < 0 {
			return fmt.Errorf("store: unknown table %q (want one of %s)", rows[i].Table, strings.Join(Tables(), ", "))
		}
	}
	// Taken before any wait for space: backpressure is part of the latency.
	addNS := time.Now().UnixNano()
	s.mu.Lock()
	for s.pending >= s.cfg.MaxPending && !s.closed {
		if s.space == nil {
			s.space = make(chan struct{})
		}
		if unpausable {
			// The spiller takes sealed batches: one left to grow
			// behind the backlog grows no more now.
			s.sealFullLocked()
			s.unpausable++
			s.spill.Signal()
		}
		space := s.space
		s.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
		}
		s.mu.Lock()
		if unpausable {
			s.unpausable--
		}
		if ctx.Err() != nil {
			s.mu.Unlock()
			return ctx.Err()
		}
	}
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	for i := range rows {
		t := tableIndex(rows[i].Table)
		b := s.cur[t]
		if b == nil {
			b = s.newBatchLocked(t)
			b.started = time.Now()
			s.cur[t] = b
		}
		b.mark(addNS)
		b.add(&rows[i])
		if s.fullLocked(b) {
			s.sealLocked(t)
		}
	}
	s.pending += len(rows)
	s.mu.Unlock()
	s.stats.added.Add(uint64(len(rows)))
	return nil
}

// growFactor and maxBatchBytes bound a batch that goes on filling past
// BatchRows while the writers have a backlog (see fullLocked).
const (
	growFactor    = 4
	maxBatchBytes = 64 << 20
)

// fullLocked reports whether b is to be sealed. At BatchRows it is, unless
// no writer is free for it (see backlogLocked): then its rows would wait
// anyway, and it goes on filling, up to growFactor times BatchRows, or
// until a writer asks for work (next seals it then). Side by side (bench,
// tcp-homer, 300,000 messages, two alternating pairs), COPYs of 2000 rows
// cost hepd 2.7–3.3 CPU-s per million rows against 3.5–4.7 for 500, and
// PostgreSQL 32–39 against 34–43. At a rate the writers keep up with,
// batches stay at BatchRows, and so does the latency.
func (s *Store) fullLocked(b *batch) bool {
	n := len(b.rows)
	return n >= s.cfg.BatchRows && (!s.backlogLocked() || n >= growFactor*s.cfg.BatchRows || len(b.buf) >= maxBatchBytes)
}

// backlogLocked reports whether a batch sealed now would wait: every
// writer not busy with a batch has a sealed one to take already.
func (s *Store) backlogLocked() bool { return len(s.ready) >= s.cfg.Writers-s.busy }

// sealFullLocked seals the batches that reached BatchRows, for a writer
// that found nothing ready, and reports whether there were any.
func (s *Store) sealFullLocked() bool {
	sealed := false
	for i, b := range s.cur {
		if b != nil && len(b.rows) >= s.cfg.BatchRows {
			s.sealLocked(i)
			sealed = true
		}
	}
	return sealed
}

func (s *Store) newBatchLocked(t int) *batch {
	// A new arena gets a full batch's size at once: growing it by append
	// copies every row about twice, which profiling showed as a fifth of
	// hepd's CPU while a backlog builds up (no recycled batches then).
	// Behind a backlog a batch is likely to grow (see fullLocked).
	rows := s.cfg.BatchRows
	if s.backlogLocked() {
		rows *= growFactor
	}
	want := min(rows*s.rowSize*9/8, maxBatchBytes)
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		s.freeBytes -= cap(b.buf)
		b.table = t
		if !arenaFits(cap(b.buf), want) {
			b.buf = make([]byte, 0, want)
		}
		return b
	}
	return &batch{table: t, buf: make([]byte, 0, want), rows: make([]rowRef, 0, s.cfg.BatchRows)}
}

// arenaFits reports whether a recycled arena of capacity c will do where a
// new one would get want bytes: the row-size estimate moves by a few bytes
// from one batch to the next, and replacing every arena a byte short was
// 3.4% of hepd's CPU in a tcp-lean round (pprof, 2026-11-30 11:27: large
// allocations and their zeroing). want has an eighth to spare over the
// estimate; an arena keeps at least a sixteenth.
func arenaFits(c, want int) bool { return c >= want-want/18 }

func (s *Store) sealLocked(t int) {
	b := s.cur[t]
	s.cur[t] = nil
	if len(b.rows) >= s.cfg.BatchRows {
		s.rowSize = len(b.buf)/len(b.rows) + 1
	}
	b.sealed = time.Now()
	s.ready = append(s.ready, b)
	s.work.Signal()
	if s.unpausable > 0 {
		s.spill.Signal() // it may have found nothing to spill
	}
}

// every calls f every d until ctx ends, as one of the store's loops.
func (s *Store) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	defer s.loops.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f(ctx)
	}
}

// tick seals the non-empty batches; it runs each FlushInterval.
func (s *Store) tick(context.Context) {
	// While the writers have a backlog, a partial batch only makes COPYs
	// smaller; let it fill, up to a few intervals.
	now := time.Now()
	s.mu.Lock()
	for i, b := range s.cur {
		if b != nil && len(b.rows) > 0 && (len(s.ready) == 0 || now.Sub(b.started) >= 5*s.cfg.FlushInterval) {
			s.sealLocked(i)
		}
	}
	s.mu.Unlock()
}

// next returns the oldest sealed batch, waiting for one; nil once the store
// is closed and nothing is left.
func (s *Store) next() *batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.ready) == 0 && (!s.closed || s.spilling) && !s.sealFullLocked() {
		s.work.Wait()
	}
	if len(s.ready) == 0 {
		return nil
	}
	b := s.ready[0]
	s.ready[0] = nil
	s.ready = s.ready[1:]
	s.busy++
	return b
}

// done accounts a written batch and recycles it.
func (s *Store) done(b *batch) {
	d := time.Since(b.sealed)
	s.stats.flushes.Add(1)
	s.stats.latencySum.Add(int64(d))
	for {
		m := s.stats.latencyMax.Load()
		if int64(d) <= m || s.stats.latencyMax.CompareAndSwap(m, int64(d)) {
			break
		}
	}
	s.mu.Lock()
	s.busy--
	s.pending -= len(b.rows)
	if s.space != nil && s.pending < s.cfg.MaxPending {
		close(s.space)
		s.space = nil
	}
	// Keep what MaxPending allows anyway: memory is budgeted by it, and
	// reuse keeps the steady state free of allocations.
	rowSize := s.rowSize
	if rowSize == 0 && len(b.rows) > 0 { // no full batch yet
		rowSize = len(b.buf)/len(b.rows) + 1
	}
	b.reset()
	if s.freeBytes+cap(b.buf) <= 2*(s.cfg.MaxPending+len(tables)*s.cfg.BatchRows)*rowSize*9/8 {
		s.free = append(s.free, b)
		s.freeBytes += cap(b.buf)
	}
	s.mu.Unlock()
}

// spiller moves sealed batches to the spool while an AddUnpausable call
// would otherwise block: the database cannot keep up, and the spool absorbs
// the burst so that UDP readers are not paused. (A TCP reader is paused
// instead: flow control holds its agent back at no cost, where a spilled
// batch costs a disk write and is replayed later over a single session.)
// It takes the newest batch, leaving the oldest to the writers. When the
// spool is full it waits, and Add's backpressure takes over.
func (s *Store) spiller() {
	defer s.loops.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for !s.closed && (s.pending < s.cfg.MaxPending || len(s.ready) == 0 || s.unpausable == 0) {
			s.spill.Wait()
		}
		if s.closed {
			return
		}
		n := len(s.ready) - 1
		b := s.ready[n]
		s.ready[n] = nil
		s.ready = s.ready[:n]
		s.busy++          // done counts it off
		s.spilling = true // writers must not leave while it may come back
		s.mu.Unlock()
		ok := s.spoolRows(b, b.all(), nil)
		if ok {
			s.stats.spilled.Add(uint64(len(b.rows)))
			s.done(b)
		}
		s.mu.Lock()
		s.spilling = false
		if !ok {
			// Full: hand it back and look again in a while.
			s.busy--
			s.ready = append(s.ready, b)
			s.work.Broadcast()
			s.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			s.mu.Lock()
			continue
		}
		s.work.Broadcast() // a closing writer may be waiting for this batch's fate
	}
}

type errKind int

const (
	errRetry       errKind = iota // connectivity, server state: try again later
	errData                       // the rows' content: isolate
	errNoPartition                // a row's create_date has no partition
	errPermanent                  // schema or privilege problem: retry, but it needs a human
)

func classify(err error) errKind {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return errRetry
	}
	switch {
	case pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition"):
		return errNoPartition
	case strings.HasPrefix(pgErr.Code, "22"), // data exception: invalid JSON, encoding, NUL
		strings.HasPrefix(pgErr.Code, "23"), // integrity: NOT NULL
		strings.HasPrefix(pgErr.Code, "54"): // program limit: value too large
		return errData
	case strings.HasPrefix(pgErr.Code, "08"), // connection
		strings.HasPrefix(pgErr.Code, "40"), // serialization, deadlock
		strings.HasPrefix(pgErr.Code, "53"), // insufficient resources
		strings.HasPrefix(pgErr.Code, "57"), // shutdown, cancel
		strings.HasPrefix(pgErr.Code, "58"): // system error
		return errRetry
	}
	return errPermanent
}

var copyLineRE = regexp.MustCompile(`^COPY [^,]+, line (\d+)`)

// copyLine returns the 1-based COPY line PostgreSQL blamed, or 0.
func copyLine(err error) int {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return 0
	}
	m := copyLineRE.FindStringSubmatch(pgErr.Where)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// maintain runs a maintenance round; it runs each MaintenanceInterval.
func (s *Store) maintain(ctx context.Context) {
	if err := s.Maintain(ctx); err != nil && ctx.Err() == nil {
		s.rlog.Log(slog.LevelWarn, "maintain", "store: maintenance round failed, next round will retry", "err", err)
	}
}

// Maintain runs one maintenance round now: it creates the partitions of
// today, tomorrow and the day after, and drops the partitions that ended
// before each table's retention cutoff. The maintenance loop calls it every
// Config.MaintenanceInterval.
func (s *Store) Maintain(ctx context.Context) error {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	conn, err := s.maintenanceConn(ctx)
	if err != nil {
		return fmt.Errorf("store: maintenance: %w", err)
	}
	now := time.Now()
	if err := s.ensureDays(ctx, conn, now, 3); err != nil {
		return fmt.Errorf("store: maintenance: %w", err)
	}
	var errs []error
	if err := s.pruneBookkeeping(ctx); err != nil {
		errs = append(errs, err)
	}
	for t := range tables {
		if err := s.dropExpired(ctx, conn, t, now); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: maintenance: %w", err)
	}
	return nil
}

// maintenanceConn returns the maintenance session, connecting it if needed;
// maintMu must be held.
func (s *Store) maintenanceConn(ctx context.Context) (*pgx.Conn, error) {
	if s.maintConn == nil || s.maintConn.IsClosed() {
		c, err := pgx.ConnectConfig(ctx, s.connCfg)
		if err != nil {
			return nil, err
		}
		s.maintConn = c
	}
	if !s.dbReady.Load() {
		// The replayer prepares the schema when the database comes back.
		return nil, errors.New("database not prepared yet")
	}
	return s.maintConn, nil
}

// Close writes every pending row and closes the connections. If ctx ends
// first (say the database stays unreachable), the writers stop retrying and
// Close returns an error counting the rows not written. Add calls blocked on
// backpressure return ErrClosed; so does a second Close.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	for i, b := range s.cur {
		if b != nil && len(b.rows) > 0 {
			s.sealLocked(i)
		}
	}
	if s.space != nil {
		close(s.space) // blocked Adds return ErrClosed
		s.space = nil
	}
	s.work.Broadcast()
	s.spill.Broadcast()
	s.mu.Unlock()

	s.stopLoops()
	written := make(chan struct{})
	go func() {
		s.writers.Wait()
		close(written)
	}()
	var err error
	select {
	case <-written:
	case <-ctx.Done():
		s.cancelRun()
		<-written
	}
	s.cancelRun()
	s.loops.Wait()
	if ctx.Err() == nil && !s.down.Load() {
		// A last round, rather than leave the newest rows to VACUUM.
		if _, serr := s.SummarizeBRIN(ctx); serr != nil {
			s.log.Warn("store: last BRIN summarising round failed", "err", serr)
		}
	}
	s.maintMu.Lock()
	if s.maintConn != nil {
		s.maintConn.Close(context.WithoutCancel(ctx))
	}
	s.maintMu.Unlock()
	if s.spool != nil {
		if st := s.spool.Stats(); st.Rows > 0 {
			s.log.Info("store: rows left in the spool for the next start", "dir", s.spool.Dir(), "rows", st.Rows, "bytes", st.Bytes)
		}
		if cerr := s.spool.Close(); cerr != nil {
			err = cerr
		}
	}
	if n := s.stats.lost.Load(); n > 0 {
		err = fmt.Errorf("store: close: %d rows not written: %w", n, context.Cause(ctx))
	}
	return err
}

// Stats returns a snapshot of the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	pending := s.pending
	s.mu.Unlock()
	c := &s.stats
	q, n := c.commit.quantiles(0.5, 0.99)
	var sp spool.Stats
	if s.spool != nil {
		sp = s.spool.Stats()
	}
	return Stats{
		SpoolRows:           sp.Rows,
		SpoolBytes:          sp.Bytes,
		SpoolSegments:       sp.Segments,
		SpoolFullRefusals:   sp.Full,
		SpoolCorruptSkips:   sp.CorruptSkips,
		CommitLatencyRows:   n,
		CommitLatencyP50:    q[0],
		CommitLatencyP99:    q[1],
		CommitLatencyMax:    time.Duration(c.commit.max.Load()) * time.Microsecond,
		RowsAdded:           c.added.Load(),
		RowsCommitted:       c.committed.Load(),
		RowsRejected:        c.rejected.Load(),
		RowsLost:            c.lost.Load(),
		RejectsStored:       c.rejectsStored.Load(),
		RejectsFiled:        c.rejectsFiled.Load(),
		DBDown:              s.down.Load(),
		RowsSpooled:         c.spooled.Load(),
		RowsSpilled:         c.spilled.Load(),
		RowsReplayed:        c.replayed.Load(),
		RowsReplaySkipped:   c.replaySkipped.Load(),
		RowsSpoolUnreadable: c.spoolUnreadable.Load(),
		CommitsUnknown:      c.ambiguous.Load(),
		CommitsUnknownIn:    c.ambiguousIn.Load(),
		RowsPending:         pending,
		Batches:             c.batches.Load(),
		CopyErrors:          c.copyErrors.Load(),
		PartitionsCreated:   c.partitionsCreated.Load(),
		PartitionsDropped:   c.partitionsDropped.Load(),
		RangesSummarized:    c.brinRanges.Load(),
		Flushes:             c.flushes.Load(),
		FlushLatencySum:     time.Duration(c.latencySum.Load()),
		FlushLatencyMax:     time.Duration(c.latencyMax.Load()),
	}
}
