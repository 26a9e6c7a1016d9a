package store

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSlotAndName(t *testing.T) {
	kolkata := time.FixedZone("IST", 5*3600+1800)
	tests := []struct {
		name     string
		at       time.Time
		step     string
		wantName string
		from, to string
	}{
		{"spec example 2h", time.Date(2023, 11, 14, 22, 30, 0, 0, time.UTC), "2h", "hep_proto_1_call_20231114_2200", "2023-11-14 22:00:00+00", "2023-11-15 00:00:00+00"},
		{"1h", time.Date(2023, 11, 14, 22, 59, 59, 999999000, time.UTC), "1h", "hep_proto_1_call_20231114_2200", "2023-11-14 22:00:00+00", "2023-11-14 23:00:00+00"},
		{"non-UTC input is named in UTC", time.Date(2023, 11, 15, 4, 0, 0, 0, kolkata), "2h", "hep_proto_1_call_20231114_2200", "2023-11-14 22:00:00+00", "2023-11-15 00:00:00+00"},
		{"45m last slot ends at midnight", time.Date(2024, 2, 29, 23, 59, 0, 0, time.UTC), "45m", "hep_proto_1_call_20240229_2315", "2024-02-29 23:15:00+00", "2024-03-01 00:00:00+00"},
		{"6h", time.Date(2024, 1, 1, 5, 59, 0, 0, time.UTC), "6h", "hep_proto_1_call_20240101_0000", "2024-01-01 00:00:00+00", "2024-01-01 06:00:00+00"},
		{"3h means 6h", time.Date(2024, 1, 1, 7, 0, 0, 0, time.UTC), "3h", "hep_proto_1_call_20240101_0600", "2024-01-01 06:00:00+00", "2024-01-01 12:00:00+00"},
		{"1d", time.Date(2024, 1, 1, 7, 0, 0, 0, time.UTC), "1d", "hep_proto_1_call_20240101_0000", "2024-01-01 00:00:00+00", "2024-01-02 00:00:00+00"},
		{"slot start", time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC), "5m", "hep_proto_1_call_20240101_1000", "2024-01-01 10:00:00+00", "2024-01-01 10:05:00+00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := ParseStep(tt.step)
			if err != nil {
				t.Fatal(err)
			}
			from, to := slot(tt.at, step)
			if n := partitionName("hep_proto_1_call", from); n != tt.wantName {
				t.Errorf("name %s, want %s", n, tt.wantName)
			}
			if f, tt2 := boundLiteral(from), boundLiteral(to); f != tt.from || tt2 != tt.to {
				t.Errorf("bounds %s..%s, want %s..%s", f, tt2, tt.from, tt.to)
			}
		})
	}
}

func TestParseStepRejects(t *testing.T) {
	for _, s := range []string{"", "3m", "90m", "1.5h", "2d", "1H", "360m"} {
		if d, err := ParseStep(s); err == nil {
			t.Errorf("ParseStep(%q) = %v, want an error", s, d)
		} else if !strings.Contains(err.Error(), "allowed") {
			t.Errorf("ParseStep(%q) error %q does not list the allowed steps", s, err)
		}
	}
	// Every allowed step divides the day, or slots would straddle midnight.
	for _, s := range []string{"5m", "10m", "15m", "20m", "25m", "30m", "35m", "40m", "45m", "50m", "55m", "60m", "1h", "120m", "2h", "3h", "4h", "5h", "6h", "7h", "8h", "9h", "10h", "11h", "12h", "24h", "1d"} {
		d, err := ParseStep(s)
		if err != nil {
			t.Errorf("ParseStep(%q): %v", s, err)
		} else if day%d != 0 {
			t.Errorf("ParseStep(%q) = %v does not divide a day", s, d)
		}
	}
}

func TestGaps(t *testing.T) {
	sp := []span{{from: 10, to: 20}, {from: 30, to: 40}}
	tests := []struct {
		from, to int64
		want     [][2]int64
	}{
		{0, 10, [][2]int64{{0, 10}}},
		{10, 20, nil},
		{12, 18, nil},
		{15, 35, [][2]int64{{20, 30}}},
		{0, 50, [][2]int64{{0, 10}, {20, 30}, {40, 50}}},
		{40, 45, [][2]int64{{40, 45}}},
	}
	for _, tt := range tests {
		if got := gaps(sp, tt.from, tt.to); !slices.Equal(got, tt.want) {
			t.Errorf("gaps(%d,%d) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	if _, ok := find(sp, 20); ok {
		t.Error("find(20): the upper bound is exclusive")
	}
	if s, ok := find(sp, 39); !ok || s.from != 30 {
		t.Errorf("find(39) = %v %v", s, ok)
	}
}

func TestParseBound(t *testing.T) {
	for in, want := range map[string]time.Time{
		"'2023-11-14 22:00:00+00'":    time.Date(2023, 11, 14, 22, 0, 0, 0, time.UTC),
		"'2023-11-14 22:00:00.5+00'":  time.Date(2023, 11, 14, 22, 0, 0, 5e8, time.UTC),
		"'2023-11-14 23:00:00+01'":    time.Date(2023, 11, 14, 22, 0, 0, 0, time.UTC),
		"'2023-11-14 22:00:00+05:30'": time.Date(2023, 11, 14, 16, 30, 0, 0, time.UTC),
	} {
		got, err := parseBound(in)
		if err != nil || got != want.UnixMicro() {
			t.Errorf("parseBound(%s) = %v, %v; want %v", in, time.UnixMicro(got).UTC(), err, want)
		}
	}
}

func TestRetentionCutoff(t *testing.T) {
	now := time.Date(2024, 3, 15, 3, 45, 0, 0, time.UTC)
	// heplify-server: 14 keeps today and the 13 previous days.
	if got, want := retentionCutoff(now, 14), time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("cutoff(14) = %v, want %v", got, want)
	}
	if got, want := retentionCutoff(now, 1), time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("cutoff(1) = %v, want %v", got, want)
	}
}

func TestClassify(t *testing.T) {
	if classify(errString("dial tcp: connection refused")) != errRetry {
		t.Error("a non-PostgreSQL error must be retried")
	}
}

type errString string

func (e errString) Error() string { return string(e) }
