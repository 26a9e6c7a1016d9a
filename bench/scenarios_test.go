package main

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	homer := scenario{Name: "tcp-homer", Ceiling: true}
	lean := scenario{Name: "tcp-lean", Ceiling: true}
	half := scenario{Name: "tcp-homer-halfrate", HalfRateOf: "tcp-homer"}
	udp := scenario{Name: "udp-homer"}
	tests := []struct {
		name   string
		scens  []scenario
		repeat int
		warmup bool
		want   []string
	}{
		{"rounds in turn", []scenario{homer, half}, 2, false,
			[]string{"tcp-homer/1", "tcp-homer-halfrate/1", "tcp-homer/2", "tcp-homer-halfrate/2"}},
		{"warm-up of the ceiling scenarios first", []scenario{homer, lean, half, udp}, 1, true,
			[]string{"tcp-homer/0", "tcp-lean/0", "tcp-homer/1", "tcp-lean/1", "tcp-homer-halfrate/1", "udp-homer/1"}},
		{"no ceiling, no warm-up", []scenario{udp}, 2, true, []string{"udp-homer/1", "udp-homer/2"}},
		{"repeat 0 is one round", []scenario{lean}, 0, true, []string{"tcp-lean/0", "tcp-lean/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, sc := range schedule(tt.scens, tt.repeat, tt.warmup) {
				got = append(got, fmt.Sprintf("%s/%d", sc.Name, sc.Round))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("schedule = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPollWait(t *testing.T) {
	tests := []struct {
		name                 string
		remaining, committed uint64
		elapsed              time.Duration
		want                 time.Duration
	}{
		{"far: 10 s to go", 300_000, 15_000, 500 * time.Millisecond, pollSlow},
		{"just over a second to go", 31_000, 15_000, 500 * time.Millisecond, pollSlow},
		{"under a second to go", 29_000, 15_000, 500 * time.Millisecond, pollFast},
		{"nothing committed since the last look", 300_000, 0, 500 * time.Millisecond, pollFast},
		{"all committed", 0, 15_000, 500 * time.Millisecond, pollFast},
		{"first look", 300_000, 0, 0, pollFast},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pollWait(tt.remaining, tt.committed, tt.elapsed); got != tt.want {
				t.Errorf("pollWait(%d, %d, %v) = %v, want %v", tt.remaining, tt.committed, tt.elapsed, got, tt.want)
			}
		})
	}
}
