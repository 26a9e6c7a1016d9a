package main

import (
	"fmt"
	"slices"
	"testing"
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
