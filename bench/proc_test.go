package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       procCPU
		err        bool
	}{
		{"plain", "1234 (postgres) S 99 1234 1234 0 -1 4194560 1 2 3 4 150 25 7 3 20 0 1 0 5 6 7",
			procCPU{ppid: 99, utime: 150, stime: 25, cutime: 7, cstime: 3}, false},
		{"name with spaces and parens", "77 (postgres: a (b) c) R 1 77 77 0 -1 0 0 0 0 0 10 20 30 40 20 0 1 0",
			procCPU{ppid: 1, utime: 10, stime: 20, cutime: 30, cstime: 40}, false},
		{"truncated", "5 (x) S 1 2 3", procCPU{}, true},
		{"no name", "5 x S 1 2 3", procCPU{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.line))
			if (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Errorf("got %+v, %v; want %+v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseUDPDrops(t *testing.T) {
	table := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  118: 0100007F:2364 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41234 2 0000000000000000 17
  119: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000000000000 5
`
	for _, tc := range []struct {
		port  int
		drops uint64
		found bool
	}{{9060, 17, true}, {53, 5, true}, {9061, 0, false}} {
		n, ok, err := parseUDPDrops([]byte(table), tc.port)
		if err != nil || n != tc.drops || ok != tc.found {
			t.Errorf("port %d: %d %v %v, want %d %v", tc.port, n, ok, err, tc.drops, tc.found)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  bool
	}{
		{"Name:\thepd\nVmPeak:\t  9000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n", 51200 << 10, false},
		{"Name:\thepd\n", 0, true},
		{"VmHWM:\t 12 MB\n", 0, true},
	} {
		got, err := parseVmHWM(strings.NewReader(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %d, %v", tc.in, got, err)
		}
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/hepd/hepd/tcpstack
BenchmarkStackFrames/epoll_lt-2   	 1000000	      1210 ns/op	 376.20 MB/s	  826446 frames/s	       0 B/op	       0 allocs/op
pkg: github.com/hepd/hepd/ingest
BenchmarkMessage-2      	  682497	      1703 ns/op	 357.09 MB/s	       0 B/op	       0 allocs/op
PASS
`
	got, err := parseBench([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		pkg, name, unit string
		v               float64
	}{
		{"github.com/hepd/hepd/tcpstack", "BenchmarkStackFrames/epoll_lt-2", "frames/s", 826446},
		{"github.com/hepd/hepd/ingest", "BenchmarkMessage-2", "ns/op", 1703},
	} {
		if i >= len(got) || got[i].Package != tc.pkg || got[i].Name != tc.name || got[i].Metrics[tc.unit] != tc.v {
			t.Errorf("line %d: %+v", i, got)
		}
	}
	if len(got) != 2 || got[1].Metrics["allocs/op"] != 0 {
		t.Errorf("got %+v", got)
	}
}

func TestMix(t *testing.T) {
	for _, n := range []int{1000, 1000000, 333333} {
		c, r, o := mix(n)
		total := 7*c + 4*r + 2*o
		if total > n || n-total > 8 {
			t.Errorf("mix(%d) = %d calls %d registrations %d options = %d messages", n, c, r, o, total)
		}
	}
}

// TestFastest: of a benchmark's runs the fastest is kept, whole (its other
// metrics too), with the median and slowest ns/op, in first-seen order;
// runs compiled without the PGO profile are another benchmark.
func TestFastest(t *testing.T) {
	run := func(name string, ns, fps float64) microBench {
		return microBench{Package: "p", Name: name, Metrics: map[string]float64{"ns/op": ns, "frames/s": fps}}
	}
	noPGO := run("BenchmarkMessage-2", 900, 5)
	noPGO.NoPGO = true
	got := fastest([]microBench{
		run("BenchmarkMessage-2", 1100, 1), run("BenchmarkFramer-2", 20, 50), noPGO,
		run("BenchmarkMessage-2", 990, 2), run("BenchmarkMessage-2", 1300, 3), run("BenchmarkMessage-2", 1200, 4),
	})
	if len(got) != 3 || got[0].Name != "BenchmarkMessage-2" || got[1].Name != "BenchmarkFramer-2" || !got[2].NoPGO {
		t.Fatalf("got %+v", got)
	}
	if n := got[2]; n.Metrics["ns/op"] != 900 || n.Runs != 1 {
		t.Errorf("BenchmarkMessage without PGO: %+v", n)
	}
	m := got[0]
	if m.Metrics["ns/op"] != 990 || m.Metrics["frames/s"] != 2 || m.Runs != 4 || m.NsMedian != 1100 || m.NsMax != 1300 {
		t.Errorf("BenchmarkMessage: %+v", m)
	}
	if f := got[1]; f.Runs != 1 || f.NsMedian != 20 || f.NsMax != 20 {
		t.Errorf("BenchmarkFramer: %+v", f)
	}
}

// TestClusterCPUCountsExitingChildrenOnce: with children that burn CPU and
// exit all the time, each reaped as it exits (as the postmaster reaps its
// backends), successive snapshots never go down: a child reaped during a
// scan is counted either as a live child or through cutime, never in
// neither.
func TestClusterCPUCountsExitingChildrenOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				// ~30 ms of CPU (3 ticks), then exit and be reaped.
				exec.Command("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done").Run()
			}
		})
	}
	var last uint64
	dips := 0
	for ctx.Err() == nil {
		n, err := clusterCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if n < last {
			dips++
			t.Logf("snapshot went from %d to %d ticks", last, n)
		}
		last = max(last, n)
	}
	cancel()
	wg.Wait()
	if dips > 0 {
		t.Errorf("%d snapshots lost an exiting child's CPU", dips)
	}
}

func TestHepdBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "hepd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, tc := range []struct {
		given, want string
		err         bool
	}{
		{"hepd", exe, false}, // relative to the working directory, made absolute
		{exe, exe, false},
		{"missing", "", true},
		{plain, "", true},
		{dir, "", true},
	} {
		got, err := hepdBinary(context.Background(), "/nonexistent", dir, tc.given)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("hepdBinary(%q) = %q, %v; want %q, error %v", tc.given, got, err, tc.want, tc.err)
		}
	}
}
