package store

import (
	"testing"
	"time"
)

func TestLatBucketBounds(t *testing.T) {
	// Every value lies in a bucket whose upper bound is ≥ it and within
	// 1/latSub of it; buckets are monotonic.
	prev := -1
	for _, us := range []uint64{0, 1, 15, 16, 17, 31, 32, 33, 100, 999, 1000, 1023, 1024, 123456, 1 << 40, 1<<63 - 1} {
		i := latBucket(us)
		if i < prev {
			t.Errorf("bucket(%d) = %d, below the previous %d", us, i, prev)
		}
		prev = i
		up := latUpper(i)
		if up < us || float64(up-us) > float64(us)/latSub+1 {
			t.Errorf("us %d: bucket %d upper %d", us, i, up)
		}
		if i >= latBuckets {
			t.Errorf("us %d: bucket %d out of range", us, i)
		}
	}
}

func TestLatencyQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		obs      map[time.Duration]int
		p50, p99 time.Duration // expected, within 1/latSub above
	}{
		{"uniform", map[time.Duration]int{10 * time.Millisecond: 50, 20 * time.Millisecond: 49, time.Second: 1}, 10 * time.Millisecond, 20 * time.Millisecond},
		{"tail", map[time.Duration]int{time.Millisecond: 98, 300 * time.Millisecond: 2}, time.Millisecond, 300 * time.Millisecond},
		{"single", map[time.Duration]int{7 * time.Microsecond: 1}, 7 * time.Microsecond, 7 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h latencyHist
			want := 0
			for d, n := range tc.obs {
				h.observe(d, n)
				want += n
			}
			q, n := h.quantiles(0.5, 0.99)
			if n != uint64(want) {
				t.Fatalf("count %d, want %d", n, want)
			}
			for i, w := range []time.Duration{tc.p50, tc.p99} {
				if q[i] < w || q[i] > w+w/latSub {
					t.Errorf("quantile %d = %v, want %v (+%d%%)", i, q[i], w, 100/latSub)
				}
			}
		})
	}
}
