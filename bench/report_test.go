package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestTargetsOverRounds(t *testing.T) {
	homer := func(round int, ratio, rate float64) *runResult {
		return &runResult{scenario: scenario{Name: "tcp-homer", Round: round}, Ratio: ratio, StoredRate: rate,
			CeilingRate: rate / ratio, HepdCPUPerM: 4, PGCPUPerM: 40 + float64(round)}
	}
	lean := func(round int, rate float64) *runResult {
		return &runResult{scenario: scenario{Name: "tcp-lean", Round: round}, StoredRate: rate}
	}
	udp := func(round int, drops uint64) *runResult {
		return &runResult{scenario: scenario{Name: "udp-homer", Round: round, Rate: 1000}, Sent: 1000, SendSeconds: 1,
			UDPDatagrams: 1000 - drops, UDPDrops: drops}
	}
	message := func(fastest, median float64) []microBench {
		return []microBench{{Package: "github.com/hepd/hepd/ingest", Name: "BenchmarkMessage-2",
			Metrics: map[string]float64{"ns/op": fastest, "allocs/op": 0}, Runs: 5, NsMedian: median, NsMax: median + 100, NoPGO: true}}
	}
	// call is BenchmarkCall's runs, 13 messages per op, in ns per message.
	call := func(fastest, median float64) microBench {
		return microBench{Package: "github.com/hepd/hepd/ingest", Name: "BenchmarkCall-2",
			Metrics: map[string]float64{"ns/op": 13 * fastest, "ns/msg": fastest, "allocs/op": 0}, Runs: 5, NsMedian: 13 * median, NoPGO: true}
	}
	// withPGO is the runs compiled with the PGO profile, then without.
	withPGO := func(pgo, noPGO []microBench) []microBench {
		for i := range pgo {
			pgo[i].NoPGO = false
		}
		return append(pgo, noPGO...)
	}
	for _, tc := range []struct {
		name  string
		runs  []*runResult
		micro []microBench
		want  map[string]bool // goal prefix → met
		text  map[string]string
	}{
		{"median round decides", []*runResult{homer(1, 0.95, 100), homer(2, 0.80, 90), homer(3, 0.91, 95)}, nil,
			map[string]bool{"TCP, homer": true}, map[string]string{"TCP, homer": "median of 3 rounds (0.950, 0.800, 0.910)"}},
		{"lower median of two", []*runResult{homer(1, 0.95, 100), homer(2, 0.85, 90)}, nil,
			map[string]bool{"TCP, homer": false}, nil},
		{"one round", []*runResult{homer(1, 0.92, 100)}, nil,
			map[string]bool{"TCP, homer": true, "hepd CPU": true}, map[string]string{"TCP, homer": "92.0% (0 messages)"}},
		{"lean against its own round", []*runResult{homer(1, 0.9, 100), lean(1, 210), homer(2, 0.9, 50), lean(2, 90)}, nil,
			map[string]bool{"lean": false}, map[string]string{"lean": "2.10×, 1.80×"}},
		{"UDP needs every round clean", []*runResult{udp(1, 0), udp(2, 3)}, nil,
			map[string]bool{"UDP": false}, nil},
		{"UDP clean", []*runResult{udp(1, 0), udp(2, 0)}, nil,
			map[string]bool{"UDP": true}, nil},
		{"message time on the median run", nil, message(990, 1100),
			map[string]bool{"HEP3 decode": false}, map[string]string{"HEP3 decode": "fastest of 5 runs 990 ns/op, median 1100"}},
		{"message time met", nil, message(900, 980),
			map[string]bool{"HEP3 decode": true}, nil},
		{"message time as hepd is built", nil, withPGO(message(900, 950), message(990, 1100)),
			map[string]bool{"HEP3 decode": true}, map[string]string{"HEP3 decode": "median 950, slowest 1050; 0 allocs/op " +
				"(BenchmarkMessage) compiled as hepd is, with cmd/hepd/default.pgo; without it, side by side: fastest 990, median 1100"}},
		{"without PGO only if there is none", nil, withPGO(message(990, 1100), message(900, 950)),
			map[string]bool{"HEP3 decode": false}, nil},
		{"a typical message: the call's, median and fastest; the INVITE's fastest", nil, append(message(990, 1100), call(700, 900)),
			map[string]bool{"HEP3 decode": true}, map[string]string{"HEP3 decode": "per message of a whole call (BenchmarkCall): fastest of 5 runs 700 ns, median 900; " +
				"0 allocs/op; the call's first INVITE alone: fastest of 5 runs 990 ns/op, median 1100"}},
		{"the call's median over", nil, append(message(900, 950), call(700, 1010)),
			map[string]bool{"HEP3 decode": false}, nil},
		{"the INVITE's fastest over", nil, append(message(1010, 1100), call(700, 900)),
			map[string]bool{"HEP3 decode": false}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &report{Runs: tc.runs, Micro: tc.micro}
			found := map[string]target{}
			for _, tg := range rep.targets() {
				for p := range tc.want {
					if strings.HasPrefix(tg.Goal, p) {
						found[p] = tg
					}
				}
			}
			for p, met := range tc.want {
				tg, ok := found[p]
				if !ok || tg.Met == nil || *tg.Met != met {
					t.Errorf("%s: got %+v, want met %v", p, tg, met)
				}
				if s := tc.text[p]; s != "" && !strings.Contains(tg.Measured, s) {
					t.Errorf("%s: %q does not say %q", p, tg.Measured, s)
				}
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		err  bool
	}{
		{"", map[string]string{}, false},
		{"shared_buffers=1GB, max_wal_size = 8GB", map[string]string{"shared_buffers": "1GB", "max_wal_size": "8GB"}, false},
		{"shared_buffers", nil, true},
		{"=1", nil, true},
	} {
		got, err := parseSettings(tc.in)
		if (err != nil) != tc.err || len(got) != len(tc.want) {
			t.Errorf("%q: got %v, %v", tc.in, got, err)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: %s = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

// TestCeilJobsOrder: in arrival order a table's batch goes when its last
// row was captured, so the tables interleave; in table order they do not.
func TestCeilJobsOrder(t *testing.T) {
	rows := func(table string, us ...int64) ceilRows {
		d := ceilRows{table: table}
		for _, u := range us {
			d.rows = append(d.rows, ceilRef{us: u})
		}
		return d
	}
	data := []ceilRows{rows("call", 1, 2, 3, 4, 9), rows("registration", 1, 5, 6)}
	for _, tc := range []struct {
		order string
		want  []string
	}{
		{orderArrival, []string{"call 0-2", "call 2-4", "registration 0-2", "registration 2-3", "call 4-5"}},
		{orderTable, []string{"call 0-2", "call 2-4", "call 4-5", "registration 0-2", "registration 2-3"}},
	} {
		var got []string
		for _, j := range ceilJobs(data, 2, tc.order) {
			got = append(got, fmt.Sprintf("%s %d-%d", j.d.table, j.lo, j.hi))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s order: %v, want %v", tc.order, got, tc.want)
		}
	}
}
