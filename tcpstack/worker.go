package tcpstack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// conn is one accepted connection. It is created by the acceptor and from
// then on touched only by the worker that owns it.
type conn struct {
	fd       int
	id       uint64
	local    netip.AddrPort
	remote   netip.AddrPort
	fr       framer
	lifetime time.Duration // tcp_connection_lifetime when accepted; < 0: never
	last     time.Time     // last read activity
	deadline time.Time     // position in the timer heap (may lag last+lifetime)
	hidx     int           // index in the timer heap, -1 if not in it
}

type cmdOp uint8

const (
	opAdd  cmdOp = iota + 1 // take ownership of conn
	opStop                  // drain, deliver, close everything and exit
)

type cmd struct {
	op cmdOp
	c  *conn
}

type closeReason uint8

const (
	closedByPeer closeReason = iota
	closedByError
	closedByLifetime
	closedByShutdown
)

const (
	// readChunk is the most one read(2) asks for: large enough that a busy
	// connection is drained in few calls, small enough that several
	// connections share the arena before it must be delivered and reused.
	readChunk = 64 << 10
	// arenaSize is each worker's read buffer.
	arenaSize = 8 * readChunk
	// eventsPerWait bounds how many ready fds one wait returns.
	eventsPerWait = 256
	// readsPerRound bounds the reads of one connection per round under a
	// level-triggered poller, so a fast sender cannot starve the others; the
	// poller reports it again next round. Edge-triggered pollers must read
	// until EAGAIN instead.
	readsPerRound = 4
)

// worker is one of the tcp_children readers.
type worker struct {
	s      *Stack
	id     int
	p      poller
	edge   bool
	wakeFD int
	events []event

	// Command queue, filled by other goroutines.
	mu     sync.Mutex
	cmds   []cmd
	spare  []cmd
	nconns atomic.Int64 // connections assigned; read by the acceptor to balance

	// Everything below belongs to the worker goroutine.
	conns  []*conn // indexed by fd
	timers connHeap
	now    time.Time // the round's clock reading

	// Reads go into arena[off:]. Complete frames are sub-slices of it and
	// stay valid until the batch carrying them is delivered; only then is
	// off reset. minRead is the smallest read worth making before delivering
	// early to reuse the arena.
	arena   []byte
	off     int
	minRead int
	batch   []Frame
	owned   [][]byte // frame buffers from bufs to put back after Deliver
	bufs    bufPool
	wakeBuf [8]byte

	st    WorkerStats // written by the worker only
	pubMu sync.Mutex
	pub   WorkerStats // published once per round
	done  chan struct{}
}

func newWorker(s *Stack, id int, m pollMethod) (*worker, error) {
	p, err := newPoller(m)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := p.add(efd, wantRead); err != nil {
		p.close()
		unix.Close(efd)
		return nil, err
	}
	return &worker{
		s:       s,
		id:      id,
		p:       p,
		edge:    p.edge(),
		wakeFD:  efd,
		events:  make([]event, eventsPerWait),
		arena:   make([]byte, arenaSize),
		minRead: readChunk,
		done:    make(chan struct{}),
	}, nil
}

// send queues a command and wakes the worker if it may be waiting.
func (w *worker) send(c cmd) {
	w.mu.Lock()
	wake := len(w.cmds) == 0 // a non-empty queue already has a wake-up pending
	w.cmds = append(w.cmds, c)
	w.mu.Unlock()
	if wake {
		wakeFD(w.wakeFD)
	}
}

func wakeFD(fd int) {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1) // eventfd adds a host-endian uint64
	// EAGAIN means the counter is saturated: the reader is woken anyway.
	unix.Write(fd, one[:])
}

func (w *worker) run() {
	defer close(w.done)
	w.now = time.Now()
	for {
		n, err := w.p.wait(w.events, w.timeout())
		w.now = time.Now()
		if err != nil {
			w.s.log.Error("tcp worker poll failed; closing its connections", "worker", w.id, "err", err)
			w.stop()
			return
		}
		woken := false
		for _, ev := range w.events[:n] {
			fd := int(ev.fd)
			if fd == w.wakeFD {
				woken = true
				continue
			}
			if fd < len(w.conns) && w.conns[fd] != nil {
				w.read(w.conns[fd], w.edge)
			}
		}
		if woken && w.commands() {
			w.stop()
			return
		}
		w.flush()
		w.expire()
		w.publish()
	}
}

// stop drains every connection, delivers what was complete, closes
// everything and releases the worker's resources.
func (w *worker) stop() {
	for _, c := range w.conns {
		if c != nil {
			w.drain(c)
		}
	}
	w.flush()
	for _, c := range w.conns {
		if c != nil {
			w.close(c, closedByShutdown, nil)
		}
	}
	w.publish()
	w.p.close()
	unix.Close(w.wakeFD)
}

// drain reads what the kernel had already queued for c when the stop came
// (SIOCINQ), and no more: a peer that keeps sending must not hold shutdown
// open for ever. Bytes that arrive later are not accepted.
func (w *worker) drain(c *conn) {
	left, err := unix.IoctlGetInt(c.fd, unix.SIOCINQ)
	if err != nil {
		return
	}
	for left > 0 {
		if len(w.arena)-w.off < w.minRead {
			w.flush()
		}
		buf := w.arena[w.off:min(len(w.arena), w.off+readChunk, w.off+left)]
		n, err := unix.Read(c.fd, buf)
		if n > 0 {
			left -= n
			w.st.Bytes += uint64(n)
			if ferr := w.frame(c, buf[:n]); ferr != nil {
				w.close(c, closedByError, ferr)
				return
			}
		}
		if n == 0 && err == nil || err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// timeout is how long the next wait may block: until the nearest lifetime
// deadline, or for ever.
func (w *worker) timeout() time.Duration {
	d, ok := w.timers.next()
	if !ok {
		return -1
	}
	return max(d.Sub(w.now), 0)
}

// commands runs the queued commands; it reports whether the worker must stop.
func (w *worker) commands() bool {
	unix.Read(w.wakeFD, w.wakeBuf[:]) // resets the counter, for level and edge alike
	w.mu.Lock()
	cmds := w.cmds
	w.cmds = w.spare[:0]
	w.mu.Unlock()
	stop := false
	for _, c := range cmds {
		switch c.op {
		case opAdd:
			w.add(c.c)
		case opStop:
			stop = true
		}
	}
	clear(cmds)
	w.spare = cmds[:0]
	return stop
}

func (w *worker) add(c *conn) {
	c.fr.bufs = &w.bufs
	c.hidx = -1
	w.st.Accepted++
	w.st.Open++
	if err := w.p.add(c.fd, wantRead); err != nil {
		w.close(c, closedByError, err)
		return
	}
	for c.fd >= len(w.conns) {
		w.conns = append(w.conns, nil)
	}
	w.conns[c.fd] = c
	c.last = w.now
	if c.lifetime >= 0 {
		c.deadline = w.now.Add(c.lifetime)
		w.timers.push(c)
	}
}

// read reads c until a short read or readsPerRound reads (level-triggered)
// or until EAGAIN (edge-triggered, or a drain at shutdown), framing
// everything it reads.
func (w *worker) read(c *conn, untilEAGAIN bool) {
	for reads := 1; ; reads++ {
		if len(w.arena)-w.off < w.minRead {
			w.flush()
		}
		buf := w.arena[w.off:min(len(w.arena), w.off+readChunk)]
		n, err := unix.Read(c.fd, buf)
		if n > 0 {
			w.st.Bytes += uint64(n)
			c.last = w.now
			if ferr := w.frame(c, buf[:n]); ferr != nil {
				w.close(c, closedByError, ferr)
				return
			}
		}
		switch {
		case err == nil && n == 0:
			w.close(c, closedByPeer, nil)
			return
		case err == nil:
			if !untilEAGAIN && (n < len(buf) || reads == readsPerRound) {
				return
			}
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
		default:
			w.close(c, closedByError, fmt.Errorf("read: %w", err))
			return
		}
	}
}

// frame cuts the frames out of p (just read into the arena at w.off) and
// adds them to the batch. Arena space is kept up to the end of the last frame
// that refers into it; a trailing incomplete frame has been copied by the
// framer, so its bytes may be overwritten.
func (w *worker) frame(c *conn, p []byte) error {
	used := 0
	for pos := 0; pos < len(p); {
		n, f, owned, err := c.fr.next(p[pos:])
		if err != nil {
			return err
		}
		pos += n
		if f == nil {
			continue
		}
		if owned {
			w.owned = append(w.owned, f)
		} else {
			used = pos
		}
		w.batch = append(w.batch, Frame{
			Kind:     FrameHEP3,
			Data:     f[:len(f):len(f)], // an append by the sink must not run into our buffers
			ConnID:   c.id,
			Local:    c.local,
			Remote:   c.remote,
			RecvTime: w.now,
		})
	}
	w.off += used
	return nil
}

// flush delivers the batch, then makes the arena and frame buffers reusable.
func (w *worker) flush() {
	if len(w.batch) > 0 {
		t0 := time.Now()
		w.s.sink.Deliver(w.batch)
		t1 := time.Now()
		w.st.DeliverBlocked += t1.Sub(t0)
		w.st.Deliveries++
		w.st.Frames += uint64(len(w.batch))
		// Time went on while Deliver blocked; timers and later frames of this
		// round see the time it returned.
		w.now = t1
		clear(w.batch) // drop references so closed connections' buffers can go
		w.batch = w.batch[:0]
	}
	for i, b := range w.owned {
		w.bufs.put(b)
		w.owned[i] = nil
	}
	w.owned = w.owned[:0]
	w.off = 0
}

// expire closes the connections idle for their lifetime.
func (w *worker) expire() {
	for {
		d, ok := w.timers.next()
		if !ok || d.After(w.now) {
			return
		}
		c := w.timers[0]
		if real := c.last.Add(c.lifetime); real.After(w.now) {
			c.deadline = real
			w.timers.fix(0)
			continue
		}
		w.close(c, closedByLifetime, nil)
	}
}

func (w *worker) close(c *conn, why closeReason, err error) {
	if held := c.fr.held(); held > 0 && err == nil {
		err = &FrameError{Kind: ErrTruncated, Length: held, Limit: c.fr.limit}
	}
	c.fr.release()
	if c.fd < len(w.conns) && w.conns[c.fd] == c {
		w.p.remove(c.fd)
		w.conns[c.fd] = nil
	}
	if c.hidx >= 0 {
		w.timers.remove(c)
	}
	unix.Close(c.fd)
	w.nconns.Add(-1)
	w.s.open.Add(-1)
	w.st.Open--
	switch why {
	case closedByPeer:
		w.st.ClosedByPeer++
	case closedByError:
		w.st.ClosedByError++
	case closedByLifetime:
		w.st.ClosedByLifetime++
	case closedByShutdown:
		w.st.ClosedByShutdown++
	}
	if err == nil {
		return
	}
	var fe *FrameError
	if errors.As(err, &fe) {
		w.st.FrameErrors.count(fe.Kind)
		w.s.rlog.Log(slog.LevelWarn, "frame:"+fe.Kind.String(), "tcp connection closed: invalid stream",
			"reason", fe.Kind.String(), "err", err, "local", c.local, "remote", c.remote, "conn", c.id)
		return
	}
	w.s.rlog.Log(slog.LevelWarn, "conn-error", "tcp connection closed on error",
		"err", err, "local", c.local, "remote", c.remote, "conn", c.id)
}

func (w *worker) publish() {
	w.pubMu.Lock()
	w.pub = w.st
	w.pubMu.Unlock()
}

func (w *worker) stats() WorkerStats {
	w.pubMu.Lock()
	defer w.pubMu.Unlock()
	return w.pub
}
