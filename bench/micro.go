package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// microBench is one line of go test -bench output; after fastest, the
// fastest of a benchmark's runs, with the spread of all of them.
type microBench struct {
	Package string             `json:"package"`
	Name    string             `json:"name"`
	Metrics map[string]float64 `json:"metrics"` // unit → value: ns/op, allocs/op, frames/s, …
	// NoPGO marks a run compiled without cmd/hepd/default.pgo, beside the
	// runs compiled with it as hepd is.
	NoPGO bool `json:"no_pgo,omitempty"`

	Runs     int     `json:"runs,omitempty"`         // how many times it ran (-micro-count)
	NsMedian float64 `json:"ns_op_median,omitempty"` // the median run's ns/op (the lower middle one for an even count)
	NsMax    float64 `json:"ns_op_max,omitempty"`    // the slowest run's
}

// microPackages and microRegexp select the hot-path benchmarks; the store's
// BenchmarkCopy needs a database and is covered by the scenarios.
// noPGOPackages and noPGORegexp select those that also run compiled
// without the PGO profile, to show what it is worth side by side.
var (
	microPackages = []string{"./hep", "./ingest", "./ingest/sip", "./tcpstack", "./store"}
	microRegexp   = "^Benchmark(DecodeHEP3|Parse|Message|Call|HeaderJSON|Framer|StackFrames|BatchEncode)$"
	noPGOPackages = []string{"./ingest"}
	noPGORegexp   = "^Benchmark(Message|Call)$"
)

// pgoProfile is hepd's PGO profile: go build and go run of ./cmd/hepd
// compile with it (-pgo=auto), so the micro benchmarks do too.
const pgoProfile = "cmd/hepd/default.pgo"

// runMicro runs each benchmark count times and keeps the fastest run of
// each (see fastest). The whole set runs count times over, rather than
// each benchmark count times in a row, so that a benchmark's runs are
// spread over minutes: a busy minute on a shared machine then slows one of
// them, not all. The benchmarks are compiled with hepd's PGO profile when
// there is one, and noPGORegexp's also without it, right after.
func runMicro(ctx context.Context, root, benchtime string, count int) ([]microBench, error) {
	type set struct {
		pgo, regexp string
		pkgs        []string
	}
	sets := []set{{"off", microRegexp, microPackages}}
	if _, err := os.Stat(filepath.Join(root, pgoProfile)); err == nil {
		sets = []set{{filepath.Join(root, pgoProfile), microRegexp, microPackages}, {"off", noPGORegexp, noPGOPackages}}
	}
	var all []microBench
	for range max(count, 1) {
		for _, set := range sets {
			// -p 1: one package's benchmarks at a time, or go test runs as
			// many test binaries side by side as there are cores.
			args := append([]string{"test", "-p", "1", "-pgo", set.pgo, "-run", "^$", "-bench", set.regexp, "-benchmem",
				"-benchtime", benchtime, "-count", "1"}, set.pkgs...)
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if err != nil {
				return nil, fmt.Errorf("go test -bench: %w\n%s", err, out)
			}
			runs, err := parseBench(out)
			if err != nil {
				return nil, err
			}
			for i := range runs {
				runs[i].NoPGO = set.pgo == "off"
			}
			all = append(all, runs...)
		}
	}
	return fastest(all), nil
}

// fastest keeps, of the runs of each benchmark, the one with the lowest
// ns/op, in the order benchmarks first appear, and notes the median and
// slowest ns/op beside it. On a shared machine other tenants only ever
// add time, so the fastest run is the least disturbed measure of the code;
// the median shows what a typical minute gives.
func fastest(all []microBench) []microBench {
	var out []microBench
	runs := map[string][]float64{}
	index := map[string]int{}
	for _, m := range all {
		key := m.key()
		runs[key] = append(runs[key], m.Metrics["ns/op"])
		i, ok := index[key]
		if !ok {
			index[key] = len(out)
			out = append(out, m)
			continue
		}
		if m.Metrics["ns/op"] < out[i].Metrics["ns/op"] {
			out[i] = m
		}
	}
	for i := range out {
		ns := runs[out[i].key()]
		slices.Sort(ns)
		out[i].Runs, out[i].NsMedian, out[i].NsMax = len(ns), ns[(len(ns)-1)/2], ns[len(ns)-1]
	}
	return out
}

// key tells a benchmark's runs from another's.
func (m *microBench) key() string { return fmt.Sprintf("%s %s %v", m.Package, m.Name, m.NoPGO) }

// parseBench reads go test -bench output: "pkg:" lines name the package,
// benchmark lines are name, iterations, then value-unit pairs.
func parseBench(out []byte) ([]microBench, error) {
	var res []microBench
	pkg := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		m := microBench{Package: pkg, Name: f[0], Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", line, err)
			}
			m.Metrics[f[i+1]] = v
		}
		res = append(res, m)
	}
	return res, sc.Err()
}
