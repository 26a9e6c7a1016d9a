package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config configures a Store. The zero value of every field but DSN means its
// default.
type Config struct {
	// DSN of the data database (URL or keyword/value form). Required.
	DSN string

	// BatchRows flushes a table's batch when it holds this many rows.
	// Default 500: at half the benchmark's full rate (go run ./bench) a row
	// waited a third as long for its commit as with 2000 (README,
	// Performance). While the writers have a backlog, a batch goes on
	// filling up to 4 times that: larger COPYs cost hepd and PostgreSQL
	// less per row, and its rows would wait anyway.
	BatchRows int
	// FlushInterval flushes every non-empty batch this long after the
	// previous flush, bounding how stale the database is. Default 200ms.
	FlushInterval time.Duration
	// Writers is the number of parallel COPY connections. Default 2.
	Writers int
	// MaxPending is how many rows may wait, across all tables, before Add
	// blocks. Default 100000 (about 100 MB of SIP rows); it is also what is
	// buffered in memory while the database is unreachable.
	MaxPending int

	// PartitionStep per table family, with heplify-server's names and
	// values (homer-schema.md §2.3).
	PartitionStep PartitionSteps

	// RetentionDays keeps today plus the previous RetentionDays-1 days
	// (heplify-server's DBDropDays). Default 14; negative keeps everything.
	RetentionDays int
	// Per-SIP-profile overrides (DBDropDaysCall, DBDropDaysRegister,
	// DBDropDaysDefault): 0 uses RetentionDays, negative keeps everything.
	RetentionDaysCall         int
	RetentionDaysRegistration int
	RetentionDaysDefault      int

	// MaintenanceInterval is the time between maintenance rounds (create
	// partitions ahead, drop expired ones). Default 10m.
	MaintenanceInterval time.Duration
	// SummarizeInterval is the time between rounds that summarise the new
	// block ranges of the BRIN indexes (the lean profile has them) of the
	// partitions written since the previous round: until then a search
	// through such an index reads those rows in full. Default 10s.
	SummarizeInterval time.Duration

	// IndexProfile chooses the per-partition indexes: "homer" (default,
	// Homer 7's full set) or "lean" (see IndexProfiles). It applies to
	// partitions created from now on; existing ones keep their indexes.
	IndexProfile string
	// AsyncCommit sets synchronous_commit = off on the writer sessions: a
	// COPY's commit no longer waits for its WAL flush, so a database crash
	// (not a hepd crash) may lose the last few hundred milliseconds of
	// committed rows. Default false.
	AsyncCommit bool

	// SpoolDir is the folder of the disk spool that takes batches while the
	// database is unreachable or cannot keep up (see package spool); empty
	// disables it: batches then wait in memory, up to MaxPending. It also
	// holds the rejects file (RejectsFile) when hepd_rejects cannot be
	// written.
	SpoolDir string
	// SpoolMaxBytes bounds the spool on disk. Default 1 GiB.
	SpoolMaxBytes int64

	// RetryMin and RetryMax bound the exponential backoff between attempts
	// to write a batch while the database is unreachable. Defaults 100ms, 5s.
	RetryMin, RetryMax time.Duration
}

// PartitionSteps holds the partition step of each table family. Allowed
// values, as heplify-server: 5m 10m 15m 20m 25m 30m 35m 40m 45m 50m 55m 60m
// 1h 120m 2h 3h 4h 5h 6h 7h 8h 9h 10h 11h 12h 24h 1d. Like heplify-server,
// 25m means 30m, 35m and 40m mean 45m, 50m and 55m mean 60m, 3h-5h mean 6h
// and 7h-11h mean 12h (slots must divide the day evenly). Anything else is an
// error, not heplify-server's silent 2h.
type PartitionSteps struct {
	SIP  string // hep_proto_1_*; DBPartSip; default "1h" (the homer7 example config)
	QoS  string // hep_proto_5_default, hep_proto_35_default; DBPartQos; default "6h"
	Log  string // hep_proto_100_default; DBPartLog; default "2h"
	ISUP string // hep_proto_54_default; DBPartIsup; default "6h"
	DNS  string // hep_proto_53_default; no Homer setting; default "6h"
}

// ParseStep returns the partition step a heplify-server step name stands for.
func ParseStep(s string) (time.Duration, error) {
	var m int
	switch s {
	case "5m":
		m = 5
	case "10m":
		m = 10
	case "15m":
		m = 15
	case "20m":
		m = 20
	case "25m", "30m":
		m = 30
	case "35m", "40m", "45m":
		m = 45
	case "50m", "55m", "60m", "1h":
		m = 60
	case "120m", "2h":
		m = 120
	case "3h", "4h", "5h", "6h":
		m = 360
	case "7h", "8h", "9h", "10h", "11h", "12h":
		m = 720
	case "24h", "1d":
		m = 1440
	default:
		return 0, fmt.Errorf("partition step %q is not allowed (allowed: 5m 10m 15m 20m 30m 45m 1h 2h 6h 12h 1d, and heplify-server's aliases of these)", s)
	}
	return time.Duration(m) * time.Minute, nil
}

// settings is a Config with defaults applied and steps parsed.
type settings struct {
	Config
	step      [len(tables)]time.Duration
	indexes   [len(tables)][]index
	brin      [len(tables)][]string // suffixes of the BRIN indexes among indexes
	retention [len(tables)]int      // days; <0 keeps everything
}

func (c Config) settings() (*settings, error) {
	if c.DSN == "" {
		return nil, errors.New("store: Config.DSN is empty: set the data database's URL")
	}
	s := &settings{Config: c}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.BatchRows, 500)
	def(&s.Writers, 2)
	def(&s.MaxPending, 100000)
	def(&s.RetentionDays, 14)
	if s.SpoolMaxBytes == 0 {
		s.SpoolMaxBytes = 1 << 30
	}
	defDur(&s.FlushInterval, 200*time.Millisecond)
	defDur(&s.MaintenanceInterval, 10*time.Minute)
	defDur(&s.SummarizeInterval, 10*time.Second)
	defDur(&s.RetryMin, 100*time.Millisecond)
	defDur(&s.RetryMax, 5*time.Second)
	for _, v := range []struct {
		name string
		n    int
	}{{"BatchRows", s.BatchRows}, {"Writers", s.Writers}, {"MaxPending", s.MaxPending}} {
		if v.n < 0 {
			return nil, fmt.Errorf("store: %s = %d: must be positive (0 for the default)", v.name, v.n)
		}
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{{"FlushInterval", s.FlushInterval}, {"MaintenanceInterval", s.MaintenanceInterval}, {"SummarizeInterval", s.SummarizeInterval}, {"RetryMin", s.RetryMin}, {"RetryMax", s.RetryMax}} {
		if v.d < 0 {
			return nil, fmt.Errorf("store: %s = %v: must be positive (0 for the default)", v.name, v.d)
		}
	}

	steps := [...]struct {
		name, v, def string
		fam          family
	}{
		{"SIP", c.PartitionStep.SIP, "1h", famSIP},
		{"QoS", c.PartitionStep.QoS, "6h", famQoS},
		{"Log", c.PartitionStep.Log, "2h", famLog},
		{"ISUP", c.PartitionStep.ISUP, "6h", famISUP},
		{"DNS", c.PartitionStep.DNS, "6h", famDNS},
	}
	for _, st := range steps {
		v := st.v
		if v == "" {
			v = st.def
		}
		d, err := ParseStep(v)
		if err != nil {
			return nil, fmt.Errorf("store: PartitionStep.%s: %w", st.name, err)
		}
		for i := range tables {
			if tables[i].family == st.fam {
				s.step[i] = d
			}
		}
	}
	if s.IndexProfile == "" {
		s.IndexProfile = ProfileHomer
	}
	for i := range tables {
		s.retention[i] = s.RetentionDays
		switch s.IndexProfile {
		case ProfileHomer:
			s.indexes[i] = tables[i].indexes
		case ProfileLean:
			s.indexes[i] = tables[i].lean
		default:
			return nil, fmt.Errorf("store: IndexProfile %q: want %s", s.IndexProfile, strings.Join(IndexProfiles(), " or "))
		}
		s.brin[i] = brinSuffixes(s.indexes[i])
	}
	for i, o := range map[int]int{tCall: c.RetentionDaysCall, tRegistration: c.RetentionDaysRegistration, tDefault: c.RetentionDaysDefault} {
		if o != 0 {
			s.retention[i] = o
		}
	}
	return s, nil
}
