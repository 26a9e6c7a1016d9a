package main

import (
	"fmt"
	"strings"
)

// scenario is one hepd configuration and traffic pattern.
type scenario struct {
	Name       string `json:"name"`
	Transport  string `json:"transport"`
	Profile    string `json:"db_index_profile"`
	BatchRows  int    `json:"db_batch_rows"`
	Writers    int    `json:"db_writers"`
	SyncCommit bool   `json:"db_synchronous_commit"`
	FlushMS    int    `json:"db_flush_ms"`
	Messages   int    `json:"messages"`
	Rate       int    `json:"rate"` // messages/s sent; 0 = as fast as possible
	Conns      int    `json:"conns"`
	Ceiling    bool   `json:"ceiling"` // also write the same rows with bare CopyFrom
	MaxPending int    `json:"db_max_pending,omitempty"`
	GSO        bool   `json:"hepgen_gso,omitempty"` // UDP: hepgen's -gso

	Round int `json:"round"` // of -repeat, from 1; 0 is the unreported warm-up

	// HalfRateOf names an earlier scenario: this one sends at half its
	// stored rate (the latency measurement).
	HalfRateOf string `json:"half_rate_of,omitempty"`
}

// scenarios returns the full set, in run order. The first is the reference
// (defaults over TCP); the others change one thing each.
func scenarios(o options) []scenario {
	base := scenario{Name: "tcp-homer", Transport: "tcp", Profile: "homer", BatchRows: o.batchRows, Writers: o.writers,
		SyncCommit: true, FlushMS: o.flushMS, Messages: o.messages, Conns: o.conns, Ceiling: true, MaxPending: o.maxPending}
	with := func(name string, f func(*scenario)) scenario {
		s := base
		s.Name = name
		f(&s)
		return s
	}
	half := o.halfRateMessages
	if half == 0 {
		half = o.messages / 2
	}
	return []scenario{
		base,
		with("tcp-lean", func(s *scenario) { s.Profile = "lean" }),
		with("tcp-homer-async", func(s *scenario) { s.SyncCommit = false }),
		with("tcp-homer-batch2000", func(s *scenario) { s.BatchRows = 2000 }),
		with("tcp-homer-batch5000", func(s *scenario) { s.BatchRows = 5000 }),
		with("tcp-homer-writers1", func(s *scenario) { s.Writers = 1 }),
		with("tcp-homer-writers4", func(s *scenario) { s.Writers = 4 }),
		with("tcp-homer-halfrate", func(s *scenario) {
			s.Messages, s.HalfRateOf, s.Ceiling = half, "tcp-homer", false
		}),
		// The same rate with four times the batch: what the batch size
		// does to the latency.
		with("tcp-homer-batch2000-halfrate", func(s *scenario) {
			s.Messages, s.HalfRateOf, s.Ceiling, s.BatchRows = half, "tcp-homer", false, 2000
		}),
		with("udp-homer", func(s *scenario) {
			s.Transport, s.Messages, s.Rate, s.Conns, s.Ceiling = "udp", o.udpMessages, o.udpRate, o.udpConns, false
			s.GSO = o.udpGSO
			// Room for the whole burst: the scenario measures receiving,
			// and a reader paused by backpressure would drop datagrams.
			s.MaxPending = o.udpMessages + 10000
		}),
	}
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios(options{}) {
		names = append(names, s.Name)
	}
	return names
}

func selectScenarios(o options) ([]scenario, error) {
	all := scenarios(o)
	if o.scenarios == "all" {
		return all, nil
	}
	var out []scenario
	for _, name := range strings.Split(o.scenarios, ",") {
		found := false
		for _, s := range all {
			if s.Name == strings.TrimSpace(name) {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(scenarioNames(), ", "))
		}
	}
	return out, nil
}

// schedule lists the runs of scens in order: repeat rounds of all of them,
// numbered from 1. With warmup, a round 0 of the scenarios with a ceiling
// comes first and is not reported: the first heavy write of a fresh cluster
// also creates its WAL segments, which every later phase recycles (without
// it, round 1's hepd phase paid for 37 segments of 16 MB in its first
// 300,000 rows, and its ceiling for none), and its rows are round 1's
// ceiling before hepd's phase, so that every reported round has the
// ceiling on both sides.
func schedule(scens []scenario, repeat int, warmup bool) []scenario {
	var out []scenario
	if warmup {
		for _, sc := range scens {
			if sc.Ceiling {
				sc.Round = 0
				out = append(out, sc)
			}
		}
	}
	for round := 1; round <= max(repeat, 1); round++ {
		for _, sc := range scens {
			sc.Round = round
			out = append(out, sc)
		}
	}
	return out
}
