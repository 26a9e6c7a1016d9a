package store

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// latencyHist is a lock-free log-linear histogram of durations in
// microseconds: each power of two is split into latSub buckets, so a
// quantile read from it is at most 1/latSub (6%) above the true value.
// Fixed-size atomics keep Observe allocation-free on the writers' path.
type latencyHist struct {
	counts [latBuckets]atomic.Uint64
	max    atomic.Int64 // µs
}

const (
	latSubBits = 4
	latSub     = 1 << latSubBits
	latBuckets = (64 - latSubBits + 1) * latSub
)

// latBucket maps µs to its bucket: values below latSub have their own
// bucket, above that the top latSubBits+1 bits select it.
func latBucket(us uint64) int {
	if us < latSub {
		return int(us)
	}
	shift := bits.Len64(us) - latSubBits - 1
	return (shift+1)*latSub + int(us>>shift) - latSub
}

// latUpper is the largest µs value of bucket i (what a quantile reports:
// never an underestimate).
func latUpper(i int) uint64 {
	if i < latSub {
		return uint64(i)
	}
	shift := i/latSub - 1
	return (uint64(i%latSub+latSub)+1)<<shift - 1
}

func (h *latencyHist) observe(d time.Duration, n int) {
	us := max(d.Microseconds(), 0)
	h.counts[latBucket(uint64(us))].Add(uint64(n))
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantiles returns the upper bounds of the buckets holding each q in qs
// (0 < q ≤ 1), and the number of observations.
func (h *latencyHist) quantiles(qs ...float64) ([]time.Duration, uint64) {
	var snap [latBuckets]uint64
	var total uint64
	for i := range h.counts {
		snap[i] = h.counts[i].Load()
		total += snap[i]
	}
	out := make([]time.Duration, len(qs))
	if total == 0 {
		return out, 0
	}
	for j, q := range qs {
		rank := uint64(q*float64(total) + 0.5)
		rank = min(max(rank, 1), total)
		var seen uint64
		for i, c := range snap {
			if seen += c; seen >= rank {
				out[j] = time.Duration(min(latUpper(i), uint64(h.max.Load()))) * time.Microsecond
				break
			}
		}
	}
	return out, total
}
