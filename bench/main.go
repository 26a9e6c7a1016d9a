// Command bench measures hepd end to end on one machine and compares it with
// PostgreSQL's own ceiling for the same rows.
//
// In one run it starts a throwaway PostgreSQL cluster (durable settings, as
// in production), builds hepd and hepgen, and for every scenario: creates a
// fresh database, starts hepd on it, sends a fixed number of HEP3 messages
// with hepgen, waits until hepd has committed them all, and records the
// stored rate, the CPU seconds of hepd and of every PostgreSQL process of
// the cluster, hepd's peak RSS and the receive-to-commit latency. It then
// reads the stored rows back, truncates the tables and writes the same rows
// again with a bare pgx CopyFrom loop on as many connections as hepd's
// writers, in COPYs of hepd's mean size and with its session settings: the
// ceiling. Go micro benchmarks of the hot path run last. The report goes to
// results/bench-<time>.md and .json.
//
// Usage (from the repository root):
//
//	go run ./bench -messages 1000000
//	go run ./bench -messages 200000 -scenarios tcp-homer,tcp-lean
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	messages, udpMessages, udpRate, halfRateMessages int
	conns, udpConns, udpRcvBuf                       int
	batchRows, writers, flushMS, maxPending          int
	scenarios                                        string
	out                                              string
	pprofSeconds                                     int
	pprofScenario                                    string
	pgSettings                                       string
	repeat                                           int
	micro                                            bool
	benchtime                                        string
	microCount                                       int
	keep, udpGSO, warmup                             bool
	ceilingOrder, hepdBin                            string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.messages, "messages", 1000000, "messages per TCP scenario")
	fs.IntVar(&o.halfRateMessages, "halfrate-messages", 0, "messages of the half-rate latency scenario (0: messages/2)")
	fs.IntVar(&o.udpMessages, "udp-messages", 400000, "messages of the UDP scenario")
	fs.IntVar(&o.udpRate, "udp-rate", 200000, "send rate of the UDP scenario, messages/s")
	fs.IntVar(&o.udpRcvBuf, "udp-rcvbuf", 128<<20, "udp_rcvbuf of hepd in the UDP scenario, bytes (capped by net.core.rmem_max unless root): "+
		"~210,000 datagrams of 600 bytes, ~1 s at 200,000/s, for the minutes when PostgreSQL's backlog writes leave hepd's readers behind")
	fs.IntVar(&o.conns, "conns", 8, "hepgen TCP connections")
	fs.IntVar(&o.udpConns, "udp-conns", 2, "hepgen UDP sockets")
	fs.BoolVar(&o.udpGSO, "udp-gso", true, "hepgen writes runs of equal-size datagrams with UDP GSO (hepd still receives one datagram per message): "+
		"about half the sender's CPU per datagram, which it would otherwise take from hepd and PostgreSQL on the same cores")
	fs.IntVar(&o.batchRows, "batch", 500, "db_batch_rows of the base scenarios")
	fs.IntVar(&o.writers, "writers", 2, "db_writers of the base scenarios")
	fs.IntVar(&o.flushMS, "flush-ms", 200, "db_flush_ms of every scenario")
	fs.StringVar(&o.scenarios, "scenarios", "all", "comma-separated scenario names, or all: "+strings.Join(scenarioNames(), ","))
	fs.StringVar(&o.out, "out", "results", "report folder; a relative one is under the repository root")
	fs.IntVar(&o.repeat, "repeat", 1, "rounds: every selected scenario runs this many times, in turn; the targets are judged on the median round")
	fs.StringVar(&o.pgSettings, "pg", "autovacuum=off", "postgresql.conf settings of the benchmark's cluster, name=value[,name=value...]; "+
		"autovacuum is off by default because it wakes at random (once a minute per database) and costs ~20% more PostgreSQL CPU in whichever phase it lands")
	fs.IntVar(&o.maxPending, "max-pending", 0, "db_max_pending of the TCP scenarios (0: hepd's default)")
	fs.IntVar(&o.pprofSeconds, "pprof", 10, "seconds of hepd CPU profile (0: none)")
	fs.StringVar(&o.pprofScenario, "pprof-scenario", "tcp-lean", "the scenario profiled, or the first one run if it is not selected; "+
		"profiling costs hepd CPU, so the default keeps it out of the scenarios the targets are judged on")
	fs.BoolVar(&o.micro, "micro", true, "also run the Go micro benchmarks of the hot path")
	fs.StringVar(&o.benchtime, "benchtime", "1s", "-benchtime of the micro benchmarks")
	fs.IntVar(&o.microCount, "micro-count", 5, "runs of each micro benchmark (the whole set runs this many times over): the report gives the fastest (the least disturbed by other tenants) and the median")
	fs.BoolVar(&o.warmup, "warmup", true, "run each scenario with a ceiling once, unreported, before round 1: it creates the fresh cluster's WAL segments "+
		"(which later phases recycle) and its rows are round 1's ceiling before hepd's phase")
	fs.BoolVar(&o.keep, "keep", false, "keep the PostgreSQL cluster's folder")
	fs.StringVar(&o.hepdBin, "hepd-bin", "", "run this hepd binary instead of building ./cmd/hepd: alternate runs of two builds to set them side by side")
	fs.StringVar(&o.ceilingOrder, "ceiling-order", orderArrival, "order of the ceiling's batches: "+orderArrival+
		" (the tables' batches interleaved as hepd flushed them) or "+orderTable+" (one table after the other, kinder to PostgreSQL's cache)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.ceilingOrder != orderArrival && o.ceilingOrder != orderTable {
		return fmt.Errorf("-ceiling-order %q: want %s or %s", o.ceilingOrder, orderArrival, orderTable)
	}
	scens, err := selectScenarios(o)
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	b, err := newBench(ctx, root, o, stderr)
	if err != nil {
		return err
	}
	defer b.close()

	profiled := scens[0].Name
	if slices.ContainsFunc(scens, func(sc scenario) bool { return sc.Name == o.pprofScenario }) {
		profiled = o.pprofScenario
	}
	rep := &report{Started: time.Now().UTC(), Machine: b.machine, Options: o.public(), CPUTicks: b.ticks}
	// The micro benchmarks go first, while the machine is quiet: after the
	// scenarios PostgreSQL goes on writing its checkpoint for minutes.
	if o.micro {
		b.logf("== micro benchmarks (go test -bench, benchtime %s, %d runs each)", o.benchtime, o.microCount)
		rep.Micro, err = runMicro(ctx, root, o.benchtime, o.microCount)
		if err != nil {
			return err
		}
	}
	for _, sc := range schedule(scens, o.repeat, o.warmup) {
		if sc.Round == 0 {
			b.logf("== %s (warm-up, not reported): %s, %d messages, profile %s", sc.Name, sc.Transport, sc.Messages, sc.Profile)
			if _, err := b.runScenario(ctx, sc, false); err != nil {
				return fmt.Errorf("%s (warm-up): %w", sc.Name, err)
			}
			continue
		}
		if sc.HalfRateOf != "" {
			i := slices.IndexFunc(rep.Runs, func(r *runResult) bool { return r.Name == sc.HalfRateOf && r.Round == sc.Round })
			if i < 0 {
				return fmt.Errorf("scenario %s needs %s in the same run", sc.Name, sc.HalfRateOf)
			}
			sc.Rate = int(rep.Runs[i].StoredRate / 2)
		}
		b.logf("== %s (round %d): %s, %d messages, profile %s, batch %d, writers %d, synchronous_commit %v, rate %s",
			sc.Name, sc.Round, sc.Transport, sc.Messages, sc.Profile, sc.BatchRows, sc.Writers, sc.SyncCommit, rateString(sc.Rate))
		r, err := b.runScenario(ctx, sc, o.pprofSeconds > 0 && sc.Name == profiled && sc.Round == 1)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		b.logf("   %s", r.summary())
		rep.Runs = append(rep.Runs, r)
	}
	rep.Finished = time.Now().UTC()
	rep.Profile, rep.PprofTop, rep.Profiled = b.profileFile, b.profileTop, profiled
	md, js, err := rep.write(o.outDir(root))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s\n        %s\n", md, js)
	return nil
}

// outDir is the report folder: -out, under the repository root unless it
// is absolute.
func (o options) outDir(root string) string {
	if filepath.IsAbs(o.out) {
		return o.out
	}
	return filepath.Join(root, o.out)
}

func rateString(r int) string {
	if r == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%d/s", r)
}

// moduleRoot is the folder of hepd's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run bench inside the hepd module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

// build compiles a command of the module into dir.
func build(ctx context.Context, root, pkg, dir string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

func goVersion() string { return runtime.Version() }
