package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
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

	Runs     int     `json:"runs,omitempty"`         // how many times it ran (-micro-count)
	NsMedian float64 `json:"ns_op_median,omitempty"` // the median run's ns/op (the lower middle one for an even count)
	NsMax    float64 `json:"ns_op_max,omitempty"`    // the slowest run's
}

// microPackages and microRegexp select the hot-path benchmarks; the store's
// BenchmarkCopy needs a database and is covered by the scenarios.
var (
	microPackages = []string{"./hep", "./ingest", "./ingest/sip", "./tcpstack", "./store"}
	microRegexp   = "^Benchmark(DecodeHEP3|Parse|Message|Call|HeaderJSON|Framer|StackFrames|BatchEncode)$"
)

// runMicro runs each benchmark count times and keeps the fastest run of
// each (see fastest). The whole set runs count times over, rather than
// each benchmark count times in a row, so that a benchmark's runs are
// spread over minutes: a busy minute on a shared machine then slows one of
// them, not all.
func runMicro(ctx context.Context, root, benchtime string, count int) ([]microBench, error) {
	// -p 1: one package's benchmarks at a time, or go test runs as many
	// test binaries side by side as there are cores.
	args := append([]string{"test", "-p", "1", "-run", "^$", "-bench", microRegexp, "-benchmem", "-benchtime", benchtime,
		"-count", "1"}, microPackages...)
	var all []microBench
	for range max(count, 1) {
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
		all = append(all, runs...)
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
		key := m.Package + " " + m.Name
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
		ns := runs[out[i].Package+" "+out[i].Name]
		slices.Sort(ns)
		out[i].Runs, out[i].NsMedian, out[i].NsMax = len(ns), ns[(len(ns)-1)/2], ns[len(ns)-1]
	}
	return out
}

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
