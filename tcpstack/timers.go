package tcpstack

import "time"

// connHeap orders connections by lifetime deadline (a binary min-heap).
// Deadlines are updated lazily: a read only records the activity time, and
// when a connection reaches the top with a stale deadline it is pushed down
// to its real one. That keeps the per-read cost at one store.
type connHeap []*conn

func (h connHeap) less(i, j int) bool { return h[i].deadline < h[j].deadline }

func (h connHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = i
	h[j].hidx = j
}

func (h *connHeap) push(c *conn) {
	c.hidx = len(*h)
	*h = append(*h, c)
	h.up(c.hidx)
}

func (h *connHeap) remove(c *conn) {
	i := c.hidx
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	c.hidx = -1
	if i != last {
		h.fix(i)
	}
}

// fix restores the heap after the deadline at i changed.
func (h connHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h connHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h connHeap) down(i0 int) bool {
	i := i0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		j := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// next returns the earliest deadline, or false when there is none.
func (h connHeap) next() (time.Time, bool) {
	if len(h) == 0 {
		return time.Time{}, false
	}
	return h[0].deadline.time(), true
}

// instant is a time.Time in 8 bytes instead of 24 (Unix nanoseconds; 0 is
// the zero time): a connection's timestamps are a good part of what an idle
// connection costs.
type instant int64

func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return instant(t.UnixNano())
}

func (i instant) time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i))
}
