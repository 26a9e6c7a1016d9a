package main

import (
	"cmp"
	"errors"
	"net"
	"slices"

	"golang.org/x/net/ipv4"
)

// gsoMaxBytes bounds one GSO write: it is one IP packet until the kernel
// cuts it, so it must stay under 64 KiB with its headers.
const gsoMaxBytes = 63 << 10

// datagramSender writes batches of UDP datagrams with sendmmsg. With
// segmentation offload (UDP_SEGMENT) it hands the kernel each run of
// equal-size datagrams as one write, which the kernel cuts back into one
// datagram per message: the receiver sees exactly what it would without,
// and the sender pays the route, the headers and the loopback delivery
// once per run instead of once per datagram. (ipv4's WriteBatch works on
// IPv6 sockets too on Linux.)
type datagramSender struct {
	pc *ipv4.PacketConn
	// gsoBelow is the datagram size from which runs go one by one: 0 with
	// GSO off, lowered to the size of a run the kernel refused to cut.
	gsoBelow int

	order []int          // indices into the batch's messages, by size when GSO is on
	bufs  [][]byte       // the datagrams in order
	msgs  []ipv4.Message // one per run
	runs  []span         // msgs[k] holds order[runs[k].i:runs[k].j]
	ctl   []byte         // the runs' control messages, never regrown
}

// span is a run of datagrams: order[i:j].
type span struct{ i, j int }

func newDatagramSender(c *net.UDPConn, gso bool) *datagramSender {
	d := &datagramSender{
		pc:    ipv4.NewPacketConn(c),
		order: make([]int, 0, datagramBatch), bufs: make([][]byte, datagramBatch),
		msgs: make([]ipv4.Message, 0, datagramBatch), runs: make([]span, 0, datagramBatch),
		ctl: make([]byte, 0, datagramBatch*segmentControlLen),
	}
	if gso {
		d.gsoBelow = gsoMaxBytes
	}
	return d
}

// send writes q's messages, counting each one sent in done. The batch holds
// messages of distinct units (see config.sequence), so reordering it by size
// keeps every unit's messages in order. A write the kernel refuses (e.g. an
// ICMP port unreachable reported on the socket) loses the datagrams of that
// write; the rest are sent again.
func (d *datagramSender) send(batch []byte, q []queued, done *stats) error {
	d.order = d.order[:0]
	for i := range q {
		d.order = append(d.order, i)
	}
	if d.gsoBelow > 0 {
		slices.SortStableFunc(d.order, func(a, b int) int { return cmp.Compare(q[a].size(), q[b].size()) })
	}
	return d.write(batch, q, d.order, done)
}

// write sends q's messages in the given order.
func (d *datagramSender) write(batch []byte, q []queued, order []int, done *stats) error {
	d.msgs, d.runs, d.ctl = d.msgs[:0], d.runs[:0], d.ctl[:0]
	for i, k := range order {
		d.bufs[i] = batch[q[k].start:q[k].end]
	}
	for i := 0; i < len(order); {
		size, j := q[order[i]].size(), i+1
		if size < d.gsoBelow {
			for j < len(order) && j-i < gsoMaxSegments && (j-i+1)*size <= gsoMaxBytes && q[order[j]].size() == size {
				j++
			}
		}
		m := ipv4.Message{Buffers: d.bufs[i:j]}
		if j-i > 1 {
			at := len(d.ctl)
			d.ctl = appendSegmentControl(d.ctl, size)
			m.OOB = d.ctl[at:]
		}
		d.msgs = append(d.msgs, m)
		d.runs = append(d.runs, span{i, j})
		i = j
	}

	var first error
	for k := 0; k < len(d.msgs); {
		n, err := d.pc.WriteBatch(d.msgs[k:], 0)
		n = max(n, 0) // -1 with an error
		for _, g := range d.runs[k : k+n] {
			for _, x := range order[g.i:g.j] {
				done.count(q[x].l, q[x].t, q[x].size())
			}
			if g.j-g.i > 1 {
				done.segmented += g.j - g.i
			}
		}
		k += n
		if err == nil && n > 0 {
			continue
		}
		if err == nil {
			err = errors.New("sendmmsg sent nothing")
		}
		if refused, bySize := gsoRefused(err); refused && len(d.msgs[k].OOB) > 0 {
			// The rest are written again, this size and up one by one.
			d.gsoBelow = 0
			if bySize {
				d.gsoBelow = q[order[d.runs[k].i]].size()
			}
			return cmp.Or(first, d.write(batch, q, order[d.runs[k].i:], done))
		}
		done.fail(err)
		first = cmp.Or(first, err)
		k++
	}
	return first
}
