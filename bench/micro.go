package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// microBench is one line of go test -bench output.
type microBench struct {
	Package string             `json:"package"`
	Name    string             `json:"name"`
	Metrics map[string]float64 `json:"metrics"` // unit → value: ns/op, allocs/op, frames/s, …
}

// microPackages and microRegexp select the hot-path benchmarks; the store's
// BenchmarkCopy needs a database and is covered by the scenarios.
var (
	microPackages = []string{"./hep", "./ingest", "./ingest/sip", "./tcpstack", "./store"}
	microRegexp   = "^Benchmark(DecodeHEP3|Parse|Message|Call|HeaderJSON|Framer|StackFrames|BatchEncode)$"
)

func runMicro(ctx context.Context, root, benchtime string) ([]microBench, error) {
	// -p 1: one package's benchmarks at a time, or go test runs as many
	// test binaries side by side as there are cores.
	args := append([]string{"test", "-p", "1", "-run", "^$", "-bench", microRegexp, "-benchmem", "-benchtime", benchtime, "-count", "1"}, microPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	return parseBench(out)
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
