package main

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestGSORefusedFallsBack: a socket whose writes the kernel will not
// segment (here one without UDP checksums, which GSO needs) still delivers
// every datagram, one by one, and stops asking for GSO at that size.
func TestGSORefusedFallsBack(t *testing.T) {
	r, addr := udpReceiver(t)
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_NO_CHECK, 1)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}

	g := generator{prefix: "nocheck", nodeID: 1, now: time.Now}
	var batch []byte
	var q []queued
	for n := range 10 { // ten 100 Trying of calls 10..19: one size
		start := len(batch)
		u := unit{kindCall, 10 + n}
		var l label
		batch, l = g.appendMessage(batch, u, 1)
		q = append(q, queued{l, tableOf(u.kind), start, len(batch)})
	}
	size := q[0].size()
	for _, m := range q {
		if m.size() != size {
			t.Fatalf("sizes differ: %d and %d", m.size(), size)
		}
	}

	d := newDatagramSender(c, true)
	var done stats
	if err := d.send(batch, q, &done); err != nil {
		t.Fatal(err)
	}
	if done.total != 10 || done.segmented != 0 || done.firstErr != nil {
		t.Fatalf("sent %d, %d segmented (%v); want 10 one by one", done.total, done.segmented, done.firstErr)
	}
	if d.gsoBelow != size {
		t.Errorf("GSO stays on below %d bytes, want below %d", d.gsoBelow, size)
	}
	waitFor(t, r, 10)
}
