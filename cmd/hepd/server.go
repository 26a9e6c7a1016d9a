package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hepd/hepd/ingest"
	"github.com/hepd/hepd/ingest/sip"
	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/store/pgcluster"
	"github.com/hepd/hepd/tcpstack"
)

func environMap(kv []string) map[string]string {
	m := make(map[string]string, len(kv))
	for _, e := range kv {
		if k, v, ok := strings.Cut(e, "="); ok {
			m[k] = v
		}
	}
	return m
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, environ map[string]string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "ctl" {
		return runCtl(args[1:], environ, os.Stdout, stderr)
	}
	cfg, err := loadConfig(args, environ, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "hepd: %v\n", err)
		return 2
	}
	log := newLogger(string(cfg.LogLevel), stderr)
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("hepd stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by loadConfig
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// server holds the running parts, for shutdown and for the admin API.
type server struct {
	cfg   Config
	log   *slog.Logger
	store *store.Store
	pipe  *ingest.Pipeline
	udp   []*ingest.UDPSource
	tcp   *tcpstack.Stack
}

// serve runs hepd until ctx ends, then shuts down in data-flow order: stop
// the readers (draining what they already have), then flush the store.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	s := &server{cfg: cfg, log: log}

	dsn, spoolDir := string(cfg.DBDSN), string(cfg.SpoolDir)
	var dataDir string
	if dsn == "" || spoolDir == "" {
		var err error
		if dataDir, err = resolveDataDir(string(cfg.DataDir)); err != nil {
			return err
		}
	}
	switch spoolDir {
	case "none":
		spoolDir = ""
	case "":
		spoolDir = filepath.Join(dataDir, "spool")
	}
	if dsn == "" {
		dir := filepath.Join(dataDir, "pg")
		cl, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Port: int(cfg.LocalDBPort), Log: log})
		if err != nil {
			return fmt.Errorf("local PostgreSQL (set db_dsn to use your own server): %w", err)
		}
		defer func() {
			if err := cl.Stop(context.Background()); err != nil {
				log.Error("stopping local PostgreSQL", "err", err)
			}
		}()
		dsn = cl.DSN()
		log.Info("local PostgreSQL running", "data", dir, "dsn", dsn, "query_with", "psql '"+dsn+"'")
	}

	st, err := store.Open(ctx, storeConfig(cfg, dsn, spoolDir), log)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	s.store = st
	if spoolDir != "" {
		log.Info("disk spool ready", "dir", spoolDir, "max_mb", int(cfg.SpoolMaxMB), "rows_waiting", st.Stats().SpoolRows)
	} else {
		log.Warn("disk spool disabled (spool_dir = none): while the database is away, batches wait in memory only")
	}

	// Writes get their own context: SIGTERM must not abort the final flush.
	writeCtx, abortWrites := context.WithCancel(context.Background())
	defer abortWrites()
	keys, _ := sipKeys(cfg.SIPHeaders) // validated by loadConfig
	// Every address takes both HEP and SIP; which one a message is is
	// decided per datagram and per message on a stream. Its listener entry
	// says what it requires (an auth key).
	listen, lis := listeners(cfg)
	s.pipe, err = ingest.New(writeCtx, ingest.Options{
		SIPKeys:      keys,
		ExtraHeaders: cfg.CustomHeaders,
		ALegHeaders:  cfg.ALegHeaders,
		ForceALegID:  bool(cfg.ForceALegID),
		Listeners:    lis,
	}, &storeOutput{st: st}, log)
	if err != nil {
		st.Close(context.Background())
		return err
	}

	closeAll := func() {
		for _, u := range s.udp {
			u.Close()
		}
		st.Close(context.Background())
	}
	for i, a := range listen {
		u, err := ingest.ListenUDP(a, ingest.UDPOptions{ReadBuffer: int(cfg.UDPRcvBuf), Readers: int(cfg.UDPReaders), Listener: lis[i]}, s.pipe, log)
		if err != nil {
			closeAll()
			return err
		}
		s.udp = append(s.udp, u)
	}
	if !cfg.DisableTCP {
		s.tcp, err = tcpstack.New(tcpConfig(cfg, listen), s.pipe, log)
		if err != nil {
			closeAll()
			return err
		}
	}

	var admin *http.Server
	if cfg.AdminListen != "" {
		ln, err := net.Listen("tcp", string(cfg.AdminListen))
		if err != nil {
			closeAll()
			return fmt.Errorf("admin_listen: %w", err)
		}
		admin = &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
		go admin.Serve(ln)
		log.Info("admin API listening", "addr", ln.Addr().String())
	}

	udpCtx, stopUDP := context.WithCancel(context.Background())
	var udpDone sync.WaitGroup
	var udpAddrs []string
	for _, u := range s.udp {
		udpDone.Go(func() { u.Run(udpCtx) })
		udpAddrs = append(udpAddrs, u.Addr().String())
	}
	if s.tcp != nil {
		s.tcp.Start()
	}
	log.Info("hepd capturing", "udp", strings.Join(udpAddrs, ","), "tcp", tcpAddrs(s.tcp), "hep_auth_key_on", keyedAddrs(lis))

	<-ctx.Done()
	log.Info("shutting down: draining readers, then flushing batches")
	deadline, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout)*time.Second)
	defer cancel()
	var errs []error
	if s.tcp != nil {
		if err := s.tcp.Shutdown(deadline); err != nil {
			errs = append(errs, fmt.Errorf("tcp shutdown: %w", err))
		}
	}
	stopUDP()
	udpDone.Wait()
	if err := st.Close(deadline); err != nil {
		abortWrites()
		errs = append(errs, fmt.Errorf("flushing batches: %w", err))
	}
	if admin != nil {
		admin.Shutdown(deadline)
	}
	s.logFinal()
	return errors.Join(errs...)
}

// logFinal writes the totals, so an operator (and the shutdown test) can
// check that everything accepted was written.
func (s *server) logFinal() {
	ps := s.pipe.Stats()
	ss := s.store.Stats()
	args := []any{
		"hep_received", ps.Received, "records", ps.Records,
		"rows_committed", ss.RowsCommitted, "rows_rejected", ss.RowsRejected, "rows_lost", ss.RowsLost,
		"rows_spooled", ss.RowsSpooled, "rows_replayed", ss.RowsReplayed, "spool_rows", ss.SpoolRows,
		"udp_datagrams", s.udpDatagrams(),
	}
	var drops any = uint64(0)
	for _, u := range s.udp {
		n, err := u.SocketDrops()
		if err != nil {
			drops = "unavailable"
			break
		}
		drops = drops.(uint64) + n
	}
	args = append(args, "udp_socket_drops", drops)
	if s.tcp != nil {
		ts := s.tcp.Stats()
		args = append(args, "tcp_frames", ts.Frames)
	}
	s.log.Info("hepd stopped", args...)
}

// resolveDataDir returns (and creates) hepd's data folder: its own
// PostgreSQL cluster (pg/) and the spool (spool/). As root, PostgreSQL runs
// as the postgres user, which cannot reach a folder under root's 0700 home:
// the default is then /var/lib/hepd.
func resolveDataDir(dataDir string) (string, error) {
	if dataDir == "" {
		dataDir = "hepd-data"
		if os.Geteuid() == 0 {
			dataDir = "/var/lib/hepd"
		}
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	// 0755: the postgres user must traverse it to reach its own 0700 folder.
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	return dataDir, nil
}

func (s *server) udpDatagrams() uint64 {
	var n uint64
	for _, u := range s.udp {
		n += u.Datagrams()
	}
	return n
}

// listenAddrs is the hep_listen addresses followed by the sip_listen ones,
// each once (an address that does not parse is left out: validate reports
// it).
func listenAddrs(c Config) []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range slices.Concat(c.HEPListen, c.SIPListen) {
		if ap, err := netip.ParseAddrPort(a); err == nil && !slices.Contains(out, ap) {
			out = append(out, ap)
		}
	}
	return out
}

// listeners describes each listen address to the pipeline: its auth key
// (hep_auth_keys, else hep_auth_key) and whether it is a SIP capture
// address, where raw SIP is taken without a key. The order is
// listenAddrs', which the TCP stack's listener indexes follow.
func listeners(c Config) ([]netip.AddrPort, []*ingest.Listener) {
	addrs := listenAddrs(c)
	perAddr, _ := authKeys(&c) // validated by loadConfig
	out := make([]*ingest.Listener, len(addrs))
	for i, a := range addrs {
		key, ok := perAddr[a]
		if !ok {
			key = string(c.HEPAuthKey)
		}
		out[i] = &ingest.Listener{
			Name:    a.String(),
			AuthKey: []byte(key),
			RawSIP:  slices.ContainsFunc(c.SIPListen, func(s string) bool { return netip.MustParseAddrPort(s) == a }),
		}
	}
	return addrs, out
}

// keyedAddrs names the listen addresses that require an auth key (never
// the keys).
func keyedAddrs(lis []*ingest.Listener) string {
	var out []string
	for _, l := range lis {
		if len(l.AuthKey) > 0 {
			out = append(out, l.Name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

func tcpAddrs(st *tcpstack.Stack) string {
	if st == nil {
		return "disabled"
	}
	var out []string
	for _, a := range st.Addrs() {
		out = append(out, a.String())
	}
	return strings.Join(out, ",")
}

func allSIPKeys() string {
	var names []string
	for k := sip.Key(1); ; k++ {
		if _, ok := sip.ParseKey(k.String()); !ok {
			break
		}
		names = append(names, k.String())
	}
	return strings.Join(names, ", ")
}

func sipKeys(names []string) ([]sip.Key, error) {
	keys := make([]sip.Key, 0, len(names))
	for _, n := range names {
		k, ok := sip.ParseKey(n)
		if !ok {
			return nil, fmt.Errorf("unknown data_header key %q", n)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// storeOutput adapts the store to the pipeline's Output: ingest knows
// nothing of the store and the store nothing of HEP, so records are
// converted here, without copying their bytes (Add copies them).
type storeOutput struct {
	st   *store.Store
	rows sync.Pool // *[]store.Row
}

func (o *storeOutput) Write(ctx context.Context, recs []ingest.Record) error {
	return o.write(ctx, recs, false)
}

// WriteUnpausable implements ingest.UnpausableOutput: UDP records spill to
// the disk spool instead of making the reader wait.
func (o *storeOutput) WriteUnpausable(ctx context.Context, recs []ingest.Record) error {
	return o.write(ctx, recs, true)
}

func (o *storeOutput) write(ctx context.Context, recs []ingest.Record, unpausable bool) error {
	p, _ := o.rows.Get().(*[]store.Row)
	if p == nil {
		p = new([]store.Row)
	}
	rows := (*p)[:0]
	for i := range recs {
		r := &recs[i]
		rows = append(rows, store.Row{
			Table: r.Table, SID: r.SID, CreateDate: r.CreateDate,
			ProtocolHeader: r.ProtocolHeader, DataHeader: r.DataHeader, Raw: r.Raw,
		})
	}
	var err error
	if unpausable {
		err = o.st.AddUnpausable(ctx, rows)
	} else {
		err = o.st.Add(ctx, rows)
	}
	clear(rows) // drop references to the caller's buffers
	*p = rows[:0]
	o.rows.Put(p)
	return err
}
