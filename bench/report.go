package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// report is everything one run measured.
type report struct {
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Machine  machine        `json:"machine"`
	Options  map[string]any `json:"options"`
	CPUTicks float64        `json:"clock_ticks_per_s"`
	Runs     []*runResult   `json:"runs"`
	Micro    []microBench   `json:"micro,omitempty"`
	Targets  []target       `json:"targets"`
	Profile  string         `json:"hepd_cpu_profile,omitempty"`
	PprofTop string         `json:"hepd_pprof_top,omitempty"`
	Profiled string         `json:"hepd_profiled_scenario,omitempty"`
}

// target is one goal of the performance issue and what this run measured.
type target struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      *bool  `json:"met"` // nil: not measured in this run
}

func (o options) public() map[string]any {
	return map[string]any{
		"messages": o.messages, "udp_messages": o.udpMessages, "udp_rate": o.udpRate, "conns": o.conns,
		"udp_conns": o.udpConns, "udp_rcvbuf": o.udpRcvBuf, "udp_gso": o.udpGSO, "hepd_bin": o.hepdBin, "batch": o.batchRows, "writers": o.writers, "flush_ms": o.flushMS,
		"max_pending": o.maxPending, "pprof_scenario": o.pprofScenario, "pg": o.pgSettings,
		"scenarios": o.scenarios, "benchtime": o.benchtime, "micro_count": o.microCount, "ceiling_order": o.ceilingOrder, "warmup": o.warmup,
	}
}

// micro returns the benchmarks named prefix… compiled as hepd is: with
// its PGO profile, or without one if the run had none.
func (rep *report) micro(prefix string) []microBench {
	pgo := slices.ContainsFunc(rep.Micro, func(m microBench) bool { return !m.NoPGO })
	return rep.microPGO(prefix, pgo)
}

// microPGO returns the benchmarks named prefix… compiled with or without
// the PGO profile.
func (rep *report) microPGO(prefix string, pgo bool) []microBench {
	var out []microBench
	for _, m := range rep.Micro {
		if strings.HasPrefix(m.Name, prefix) && m.NoPGO != pgo {
			out = append(out, m)
		}
	}
	return out
}

func yes(b bool) *bool { return &b }

// runs returns the rounds of one scenario, in order.
func (rep *report) runs(name string) []*runResult {
	var out []*runResult
	for _, r := range rep.Runs {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// median returns the lower median of rs by key: with an even count the
// worse of the two middle rounds, so a target is never met on a tie.
func median(rs []*runResult, key func(*runResult) float64) *runResult {
	s := slices.Clone(rs)
	slices.SortStableFunc(s, func(a, b *runResult) int { return cmp.Compare(key(a), key(b)) })
	return s[(len(s)-1)/2]
}

// each formats key of every round, "a, b, c".
func each(rs []*runResult, format string, key func(*runResult) float64) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf(format, key(r)))
	}
	return strings.Join(parts, ", ")
}

// rounds says how a figure was chosen when there were several rounds.
func rounds(rs []*runResult, format string, key func(*runResult) float64) string {
	if len(rs) < 2 {
		return ""
	}
	return fmt.Sprintf("; median of %d rounds (%s)", len(rs), each(rs, format, key))
}

// targets evaluates the goals against the figures; with several
// rounds (-repeat), on the median round, every round listed.
func (rep *report) targets() []target {
	var ts []target
	add := func(goal, measured string, met *bool) { ts = append(ts, target{goal, measured, met}) }
	if hs := rep.runs("tcp-homer"); len(hs) > 0 {
		ratio := func(r *runResult) float64 { return r.Ratio }
		r := median(hs, ratio)
		add("TCP, homer profile: stored rate ≥ 90% of the same-run ceiling",
			fmt.Sprintf("%.0f/s vs %.0f/s = %.1f%% (%d messages)%s", r.StoredRate, r.CeilingRate, 100*r.Ratio, r.Stored,
				rounds(hs, "%.3f", ratio)), yes(r.Ratio >= 0.9))
		share := func(r *runResult) float64 { return r.HepdCPUPerM / r.PGCPUPerM }
		c := median(hs, share)
		add("hepd CPU ≤ 10% of PostgreSQL's, < 5 CPU-s per million",
			fmt.Sprintf("hepd %.2f CPU-s/M, PostgreSQL %.2f CPU-s/M = %.1f%%%s", c.HepdCPUPerM, c.PGCPUPerM, 100*share(c),
				rounds(hs, "%.3f", share)),
			yes(c.HepdCPUPerM <= 0.1*c.PGCPUPerM && c.HepdCPUPerM < 5))
		if ls := rep.runs("tcp-lean"); len(ls) > 0 {
			// Each lean round against the homer round before it.
			var pairs []*runResult
			times := map[*runResult]float64{}
			for _, l := range ls {
				if i := slices.IndexFunc(hs, func(h *runResult) bool { return h.Round == l.Round }); i >= 0 {
					pairs = append(pairs, l)
					times[l] = l.StoredRate / hs[i].StoredRate
				}
			}
			if len(pairs) > 0 {
				x := func(r *runResult) float64 { return times[r] }
				l := median(pairs, x)
				add("lean ≥ 2× homer stored rate", fmt.Sprintf("%.0f/s vs %.0f/s = %.2f×%s", l.StoredRate, l.StoredRate/x(l), x(l),
					rounds(pairs, "%.2f×", x)), yes(x(l) >= 2))
			}
		}
	} else {
		add("TCP, homer profile: stored rate ≥ 90% of the same-run ceiling", "not run", nil)
	}
	if ms := rep.micro("BenchmarkMessage"); len(ms) > 0 {
		m := ms[0].Metrics
		what := fmt.Sprintf("%.0f ns/op, %.0f allocs/op (BenchmarkMessage)", m["ns/op"], m["allocs/op"])
		met := m["ns/op"] < 1000 && m["allocs/op"] == 0
		if ms[0].Runs > 1 {
			what = fmt.Sprintf("fastest of %d runs %.0f ns/op, median %.0f, slowest %.0f; %.0f allocs/op (BenchmarkMessage)",
				ms[0].Runs, m["ns/op"], ms[0].NsMedian, ms[0].NsMax, m["allocs/op"])
		}
		// A typical message is the average message of a real call
		// (BenchmarkCall), which must make it in the median run as in the
		// fastest. The call's first INVITE with its SDP (BenchmarkMessage,
		// 608 bytes against 516 on average) must make it in the fastest
		// run, the one other tenants disturbed least. Without the call, the
		// INVITE alone decides, in both runs.
		if cs := rep.microPGO("BenchmarkCall", !ms[0].NoPGO); len(cs) > 0 && cs[0].Metrics["ns/msg"] > 0 {
			c := cs[0].Metrics
			perMsg := c["ns/msg"] / c["ns/op"] // 1 / the call's messages
			median := c["ns/msg"]
			if cs[0].Runs > 1 {
				median = cs[0].NsMedian * perMsg
			}
			what = fmt.Sprintf("per message of a whole call (BenchmarkCall): fastest of %d runs %.0f ns, median %.0f; %.0f allocs/op; "+
				"the call's first INVITE alone: %s", max(cs[0].Runs, 1), c["ns/msg"], median, c["allocs/op"], what)
			met = met && c["ns/msg"] < 1000 && median < 1000 && c["allocs/op"] == 0
		} else if ms[0].Runs > 1 {
			met = met && ms[0].NsMedian < 1000 // a typical minute, not only the quietest
		}
		if !ms[0].NoPGO {
			what += " compiled as hepd is, with " + pgoProfile
			if no := rep.microPGO("BenchmarkMessage", false); len(no) > 0 {
				what += fmt.Sprintf("; without it, side by side: fastest %.0f, median %.0f", no[0].Metrics["ns/op"], no[0].NsMedian)
			}
		}
		add("HEP3 decode + SIP extraction + header JSON < 1 µs per typical SIP message, 0 allocs", what, yes(met))
	}
	if ms := rep.micro("BenchmarkStackFrames"); len(ms) > 0 {
		best, name := 0.0, ""
		for _, m := range ms {
			if v := m.Metrics["frames/s"]; v > best {
				best, name = v, m.Name
			}
		}
		add("TCP stack alone ≥ 500k HEP frames/s on loopback", fmt.Sprintf("%.0f frames/s (%s)", best, name), yes(best >= 500000))
	}
	// UDP and latency: every round must meet them; the worst is shown.
	if us := rep.runs("udp-homer"); len(us) > 0 {
		ok := true
		var parts []string
		for _, u := range us {
			sent := float64(u.Sent) / u.SendSeconds
			ok = ok && u.UDPDrops == 0 && u.UDPDatagrams == uint64(u.Sent) && sent >= 0.95*float64(u.Rate)
			parts = append(parts, fmt.Sprintf("sent %d at %.0f/s (hepgen %.2f µs CPU per datagram, GSO %v), received %d (%.0f/s), %d socket drops, %d stored",
				u.Sent, sent, 1e6*u.HepgenCPU/float64(max(u.Sent, 1)), u.GSO, u.UDPDatagrams, u.UDPRecvRate, u.UDPDrops, u.Stored))
		}
		add(fmt.Sprintf("UDP: %d HEP packets/s received without socket drops", us[0].Rate), strings.Join(parts, "; "), yes(ok))
	}
	if hs := rep.runs("tcp-homer-halfrate"); len(hs) > 0 {
		p99 := func(r *runResult) float64 { return r.LatencyP99ms }
		h := slices.MaxFunc(hs, func(a, b *runResult) int { return cmp.Compare(p99(a), p99(b)) })
		limit := 2 * float64(h.FlushMS)
		worst := ""
		if len(hs) > 1 {
			worst = fmt.Sprintf("; the worst of %d rounds (%s ms)", len(hs), each(hs, "%.0f", p99))
		}
		add("p99 receive-to-committed < 2 × flush interval at half the sustained rate",
			fmt.Sprintf("p99 %.0f ms (p50 %.0f ms) at %d msg/s, limit %.0f ms%s", h.LatencyP99ms, h.LatencyP50ms, h.Rate, limit, worst),
			yes(h.LatencyP99ms < limit))
	}
	return ts
}

// write stores the report as results/bench-<time>.md and .json.
func (rep *report) write(dir string) (md, js string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	rep.Targets = rep.targets()
	stamp := rep.Started.Format("20060102-150405")
	js = filepath.Join(dir, "bench-"+stamp+".json")
	md = filepath.Join(dir, "bench-"+stamp+".md")
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(js, append(b, '\n'), 0o644); err != nil {
		return "", "", err
	}
	return md, js, os.WriteFile(md, []byte(rep.markdown()), 0o644)
}

func (rep *report) markdown() string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "# hepd benchmark %s\n\n", rep.Started.Format(time.RFC3339))
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %.1f GiB RAM, Linux %s, PostgreSQL %s, %s. Run took %s.\n\n",
		m.CPUs, m.CPUModel, m.MemGiB, m.Kernel, m.Postgres, m.Go, rep.Finished.Sub(rep.Started).Round(time.Second))
	b.WriteString("Load average (1 min) at the start and end of each scenario is listed: the machine may be shared, so compare figures of the same run only.\n\n")

	b.WriteString("## Targets\n\n| goal | measured | met |\n|---|---|---|\n")
	for _, t := range rep.Targets {
		met := "not measured"
		if t.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*t.Met]
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Goal, t.Measured, met)
	}

	b.WriteString("\n## Scenarios\n\nStored rate: messages counted in the database ÷ (first message sent → last row committed). " +
		"Ceiling: the same rows, read back and written again by bare pgx CopyFrom in COPYs of the mean size hepd's had (batch column: configured, and hepd's mean COPY; hepd's batches grow behind a backlog), with the same connections and synchronous_commit, into the same truncated tables and indexes, right after hepd's phase, and right before it with the previous round's rows (in round 1, those of an unreported warm-up round, which also creates the fresh cluster's WAL segments that every later phase recycles; without the warm-up, round 1 has no ceiling before); the ceiling is both phases' rows over both phases' time (each side's rate in brackets): the machine's speed drifts between minutes. " +
		"CPU: hepd's own utime+stime; PostgreSQL's summed over the postmaster and all its children (exited backends through cutime/cstime), per million rows. " +
		"Latency: per row, from hepd's Store.Add (in the socket read that received it) to its COPY commit. " +
		"Spilled: rows that went through hepd's disk spool because the database could not keep up; the ceiling then gets one more connection, as hepd's spool replayer is one. " +
		"Autovacuum: vacuums and analyzes of the SIP tables finished during the phase, or busy at its end; autovacuum wakes once a minute per database, so it may land in one phase and not the other.\n\n")
	b.WriteString("| scenario | transport | profile | batch | writers | sync commit | rate sent | stored | stored/s | ceiling rows/s | ratio | hepd CPU-s/M | PG CPU-s/M | ceiling PG CPU-s/M | hepd/PG CPU | hepgen CPU-s | peak RSS MiB | p50 ms | p99 ms | max ms | spilled | UDP drops | autovacuum (ceiling) | load |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	several := slices.ContainsFunc(rep.Runs, func(r *runResult) bool { return r.Round > 1 })
	for _, r := range rep.Runs {
		name := r.Name
		if several {
			name = fmt.Sprintf("%s, round %d", r.Name, r.Round)
		}
		ceil, ratio, cpg, av := "–", "–", "–", fmt.Sprint(r.Autovacuums)
		if r.CeilingRate > 0 {
			ceil, ratio, cpg = fmt.Sprintf("%.0f%s", r.CeilingRate, r.ceilingSides()), fmt.Sprintf("%.3f", r.Ratio), fmt.Sprintf("%.1f", r.CeilingPGCPUPerM)
			av += fmt.Sprintf(" (%d)", r.CeilingAutovacuums)
		}
		drops := "–"
		if r.Transport == "udp" {
			drops = fmt.Sprintf("%d (of %d sent, %d received)", r.UDPDrops, r.Sent, r.UDPDatagrams)
		}
		batch := fmt.Sprint(r.BatchRows)
		if r.CopyRows > 0 {
			batch += fmt.Sprintf(" (COPY %.0f)", r.CopyRows)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %v | %s | %d | %.0f | %s | %s | %.2f | %.1f | %s | %.1f%% | %.1f | %.0f | %.0f | %.0f | %.0f | %d | %s | %s | %.1f→%.1f |\n",
			name, r.Transport, r.Profile, batch, r.Writers, r.SyncCommit, rateString(r.Rate), r.Stored, r.StoredRate,
			ceil, ratio, r.HepdCPUPerM, r.PGCPUPerM, cpg, 100*r.HepdCPUPerM/r.PGCPUPerM, r.HepgenCPU, r.HepdPeakRSSMB,
			r.LatencyP50ms, r.LatencyP99ms, r.LatencyMaxms, r.Spilled, drops, av, r.Load1Start, r.Load1End)
	}
	if len(rep.Micro) > 0 {
		b.WriteString("\n## Micro benchmarks\n\nThe fastest of each benchmark's runs (other tenants of a shared machine only add time), with the median and slowest run's ns/op.\n\n" +
			"| package | benchmark | PGO | ns/op | median, slowest ns/op (runs) | B/op | allocs/op | other |\n|---|---|---|---|---|---|---|---|\n")
		for _, mb := range rep.Micro {
			var other []string
			for k, v := range mb.Metrics {
				if k != "ns/op" && k != "B/op" && k != "allocs/op" {
					other = append(other, fmt.Sprintf("%.0f %s", v, k))
				}
			}
			slices.Sort(other)
			pgo := "yes"
			if mb.NoPGO {
				pgo = "no"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.0f, %.0f (%d) | %.0f | %.0f | %s |\n", strings.TrimPrefix(mb.Package, "github.com/hepd/hepd/"),
				mb.Name, pgo, mb.Metrics["ns/op"], mb.NsMedian, mb.NsMax, mb.Runs, mb.Metrics["B/op"], mb.Metrics["allocs/op"], strings.Join(other, ", "))
		}
	}
	if rep.PprofTop != "" {
		fmt.Fprintf(&b, "\n## hepd CPU profile (%s, round 1)\n\n`%s`\n\n```\n%s```\n", rep.Profiled, rep.Profile, rep.PprofTop)
	}
	return b.String()
}
