package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// hepdProc is a running hepd under test.
type hepdProc struct {
	cmd   *exec.Cmd
	log   bytes.Buffer
	hep   string // host:port, UDP and TCP
	admin string // host:port
	exit  chan error
}

// startHepd starts the hepd binary with env (HEPD_* variables) on free
// loopback ports and waits for its admin API.
func startHepd(ctx context.Context, bin string, env map[string]string) (*hepdProc, error) {
	hepPort, err := freePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	h := &hepdProc{
		hep:   net.JoinHostPort("127.0.0.1", strconv.Itoa(hepPort)),
		admin: net.JoinHostPort("127.0.0.1", strconv.Itoa(adminPort)),
		exit:  make(chan error, 1),
	}
	h.cmd = exec.Command(bin)
	h.cmd.Env = append(os.Environ(), "HEPD_HEP_LISTEN="+h.hep, "HEPD_ADMIN_LISTEN="+h.admin, "HEPD_LOG_LEVEL=warn")
	for k, v := range env {
		h.cmd.Env = append(h.cmd.Env, k+"="+v)
	}
	h.cmd.Stdout, h.cmd.Stderr = &h.log, &h.log
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start hepd: %w", err)
	}
	go func() { h.exit <- h.cmd.Wait() }()
	// Start-up creates four days of partitions with their indexes (some
	// 4000 relations with the homer profile) on a durable server.
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-h.exit:
			return nil, fmt.Errorf("hepd exited at start-up (%v):\n%s", err, h.log.String())
		case <-ctx.Done():
			h.kill()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := httpGet("http://" + h.admin + "/healthz"); err == nil {
			return h, nil
		}
	}
	h.kill()
	return nil, fmt.Errorf("hepd did not answer on its admin API within 5 minutes:\n%s", h.log.String())
}

func (h *hepdProc) pid() int { return h.cmd.Process.Pid }

func (h *hepdProc) kill() {
	h.cmd.Process.Kill()
	<-h.exit
}

// stop sends SIGTERM and waits for a clean exit.
func (h *hepdProc) stop() error {
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-h.exit:
		if err != nil {
			return fmt.Errorf("hepd exit: %w\n%s", err, h.log.String())
		}
		return nil
	case <-time.After(2 * time.Minute):
		h.kill()
		return fmt.Errorf("hepd did not stop within 2 minutes")
	}
}

// hepdStats is the part of /api/v1/stats the benchmark reads.
type hepdStats struct {
	Store struct {
		RowsCommitted, RowsRejected, RowsLost uint64
		Batches                               uint64
		RowsPending                           int
		RowsSpooled, RowsSpilled              uint64
		SpoolRows                             int64
		CommitLatencyRows                     uint64
		CommitLatencyP50, CommitLatencyP99    time.Duration
		CommitLatencyMax                      time.Duration
	}
	Ingest struct{ Received, Records uint64 }
	UDP    struct{ Datagrams uint64 }
}

func (h *hepdProc) stats() (hepdStats, error) {
	var s hepdStats
	b, err := httpGet("http://" + h.admin + "/api/v1/stats")
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	return s, nil
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func httpGet(url string) ([]byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

// profile fetches a CPU profile of d from hepd's admin API into file.
func (h *hepdProc) profile(d time.Duration, file string) error {
	c := &http.Client{Timeout: d + 30*time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.admin, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func freePort() (int, error) {
	// TCP and UDP on the same number: hepd listens on both.
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port for TCP and UDP alike")
}

// hepgenResult is hepgen's -json summary.
type hepgenResult struct {
	Total   int     `json:"total"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"rate"`
	Errors  int     `json:"errors"`
	Error   string  `json:"error"`

	cpu time.Duration // hepgen's own user+system time
}

// mix splits n messages into hepgen's units as a capture point sees them:
// 70% call messages (7 each), 20% registration (4 each), 10% OPTIONS (2).
func mix(n int) (calls, registers, options int) {
	calls = n * 7 / 10 / 7
	registers = n * 2 / 10 / 4
	options = (n - 7*calls - 4*registers) / 2
	return calls, registers, max(options, 0)
}
