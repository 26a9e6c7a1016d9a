package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hepd/hepd/internal/testnet"
	"github.com/hepd/hepd/store/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// buildBin builds a command of this module into the test's temp dir: the
// end-to-end tests run hepd and hepgen as the processes users run.
func buildBin(t *testing.T, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type hepdProc struct {
	cmd   *exec.Cmd
	log   *lockedBuffer
	hep   netip.AddrPort // UDP and TCP
	sip   netip.AddrPort // raw SIP, UDP and TCP
	admin string
	done  chan struct{}
	err   error
}

// freeHEPPort finds a loopback port free for both TCP and UDP.
func freeHEPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ap, err := testnet.FreePort(true)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// startHepd runs the hepd binary with env on top of a test configuration
// and waits until it captures.
func startHepd(t *testing.T, bin string, env map[string]string) *hepdProc {
	t.Helper()
	h := &hepdProc{log: &lockedBuffer{}, hep: freeHEPPort(t), sip: freeHEPPort(t), done: make(chan struct{})}
	h.admin = freeHEPPort(t).String()
	vars := map[string]string{
		"HEPD_HEP_LISTEN":   h.hep.String(),
		"HEPD_SIP_LISTEN":   h.sip.String(),
		"HEPD_ADMIN_LISTEN": h.admin,
		"HEPD_TCP_CHILDREN": "2",
		"HEPD_DB_FLUSH_MS":  "50",
		// Fewer, larger SIP partitions than the default: each test starts on
		// a fresh database, and creating 288 hourly partitions with their
		// indexes is most of a start-up (the store's tests cover the layout).
		"HEPD_DB_PART_SIP": "6h",
		"HEPD_SPOOL_DIR":   filepath.Join(t.TempDir(), "spool"),
	}
	for k, v := range env {
		vars[k] = v
	}
	h.cmd = exec.Command(bin)
	h.cmd.Env = os.Environ()
	for k, v := range vars {
		h.cmd.Env = append(h.cmd.Env, k+"="+v)
	}
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.err = h.cmd.Wait(); close(h.done) }()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			h.cmd.Process.Kill()
			<-h.done
		}
		if t.Failed() {
			t.Logf("hepd output:\n%s", h.log.String())
		}
	})
	h.waitLog(t, "hepd capturing", 2*time.Minute)
	return h
}

// waitLog waits for a line containing s, failing early if hepd exits.
func (h *hepdProc) waitLog(t *testing.T, s string, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(h.log.String(), s) {
		select {
		case <-h.done:
			t.Fatalf("hepd exited (%v) before logging %q:\n%s", h.err, s, h.log.String())
		case <-deadline:
			t.Fatalf("hepd did not log %q within %v:\n%s", s, limit, h.log.String())
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and returns hepd's exit code.
func (h *hepdProc) stop(t *testing.T) int {
	t.Helper()
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("hepd did not exit within 3 minutes of SIGTERM:\n%s", h.log.String())
	}
	return h.cmd.ProcessState.ExitCode()
}

// finalCounts parses hepd's "hepd stopped" line.
func (h *hepdProc) finalCounts(t *testing.T) map[string]int64 {
	t.Helper()
	line := regexp.MustCompile(`(?m)^.*msg="hepd stopped".*$`).FindString(h.log.String())
	if line == "" {
		t.Fatalf("no final line in:\n%s", h.log.String())
	}
	out := map[string]int64{}
	for _, m := range regexp.MustCompile(`(\w+)=(\d+)`).FindAllStringSubmatch(line, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		out[m[1]] = n
	}
	return out
}

// genSummary is hepgen's -json output.
type genSummary struct {
	Sent   map[string]int64 `json:"sent"`
	Tables map[string]int64 `json:"tables"`
	Total  int64            `json:"total"`
	Errors int64            `json:"errors"`
}

func runHepgen(t *testing.T, bin string, args ...string) genSummary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hepgen %v: %v\n%s", args, err, stderr.String())
	}
	var s genSummary
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("hepgen output %q: %v", out, err)
	}
	if s.Total == 0 || s.Errors != 0 {
		t.Fatalf("hepgen sent %d with %d errors", s.Total, s.Errors)
	}
	return s
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

var homerTables = []string{
	"hep_proto_1_call", "hep_proto_1_registration", "hep_proto_1_default", "hep_proto_5_default",
	"hep_proto_35_default", "hep_proto_53_default", "hep_proto_54_default", "hep_proto_100_default",
}

func tableCounts(t *testing.T, conn *pgx.Conn) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tbl := range homerTables {
		var n int64
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

func readFrames(t *testing.T, dir string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("../../testdata", dir, "*.bin"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no frames in %s: %v", dir, err)
	}
	var frames [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
	}
	return frames
}

// send writes frames over one connection: a TCP stream or one datagram each.
func send(t *testing.T, network string, addr netip.AddrPort, frames [][]byte) {
	t.Helper()
	c, err := net.Dial(network, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, f := range frames {
		if _, err := c.Write(f); err != nil {
			t.Fatal(err)
		}
	}
}

func fmtCounts(m map[string]int64) string {
	var b strings.Builder
	for _, tbl := range homerTables {
		fmt.Fprintf(&b, "%s=%d ", tbl, m[tbl])
	}
	return b.String()
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, bin, args...)
}

func itoa(n int) string { return strconv.Itoa(n) }
