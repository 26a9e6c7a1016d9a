package tcpstack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hepd/hepd/tcpstack/proxyproto"
	"github.com/hepd/hepd/tcpstack/sipframe"
)

// conn is one connection, accepted or dialed. It is created by the acceptor
// (or Dial) and from then on touched only by the worker that owns it; what
// other goroutines may see of it is in its entry.
//
// An idle connection costs what this struct and its entry take, so fields
// are ordered to leave no padding (the flags share one word at the end).
type conn struct {
	fd int
	id uint64
	// e is the connection's table entry. Its addresses (local, remote, peer,
	// proxied) and creation time are kept there only, to keep an idle
	// connection small; this worker is their only writer, so it reads them
	// without the table's lock.
	e        *entry
	fr       framer
	lifetime time.Duration // tcp_connection_lifetime when made; < 0: never
	last     instant       // last read activity
	deadline instant       // position in the timer heap (may lag the real one)
	hidx     int           // index in the timer heap, -1 if not in it

	proxyDead instant // tcp_accept_haproxy: the PROXY header is due by then (tcp_wait_data)
	pbuf      []byte  // bytes of an incomplete PROXY header
	// msgDead is when the message in progress must be complete
	// (tcp_msg_read_timeout); zero while none is in progress.
	msgDead instant
	// dataDead is when the first complete message is due
	// (tcp_msg_data_timeout); zero once it came, and for outbound
	// connections.
	dataDead instant
	sendDead instant // tcp_send_timeout deadline of the queue; zero: none

	bytesIn, framesIn uint64

	outbound  bool
	proxyWait bool // tcp_accept_haproxy: the PROXY header is still due
	writing   bool // write interest is set in the poller
	dead      bool
}

type cmdOp uint8

const (
	opAdd   cmdOp = iota + 1 // take ownership of c
	opStop                   // drain, deliver, close everything and exit
	opWant                   // e's queue is not empty: watch for writability
	opClose                  // a writer failed e: close it for e.failWhy
	opWrite                  // write data on e (tcp_fd_cache=no) and answer done
	opInfo                   // describe the connections on info
)

type cmd struct {
	op   cmdOp
	c    *conn
	e    *entry
	data []byte
	done chan error
	at   time.Time
	info chan []ConnInfo
}

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

var (
	crlf    = []byte("\r\n")
	pongBuf = bytes.Repeat(crlf, 4096) // read-only
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
	mu      sync.Mutex
	cmds    []cmd
	spare   []cmd
	stopped bool         // no more commands are taken
	nconns  atomic.Int64 // connections assigned; read by the acceptor to balance

	// Everything below belongs to the worker goroutine.
	// conns maps fd to connection. A map, not a slice indexed by fd: fds
	// are numbered across all workers, so every worker's slice would span
	// them all (8 bytes per connection per worker).
	conns  map[int]*conn
	timers connHeap
	now    time.Time // the round's clock reading
	rt     *Runtime  // the round's runtime snapshot
	// readTO and dataTO are tcp_msg_read_timeout and tcp_msg_data_timeout
	// in force; 0 when a rule is off (or tcp_check_timer is).
	readTO, dataTO time.Duration

	// Reads go into arena[off:]. Complete frames are sub-slices of it and
	// stay valid until the batch carrying them is delivered; only then is
	// off reset. minRead is the smallest read worth making before delivering
	// early to reuse the arena.
	arena   []byte
	off     int
	minRead int
	batch   []Frame
	failed  []int    // CheckedSink's verdicts
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
	readTO, dataTO := s.cfg.waitRules()
	return &worker{
		s:       s,
		id:      id,
		readTO:  readTO,
		dataTO:  dataTO,
		p:       p,
		edge:    p.edge(),
		wakeFD:  efd,
		events:  make([]event, eventsPerWait),
		arena:   make([]byte, arenaSize),
		minRead: readChunk,
		conns:   make(map[int]*conn),
		done:    make(chan struct{}),
	}, nil
}

// send queues a command and wakes the worker if it may be waiting. It
// reports false when the worker has stopped and will not run it.
func (w *worker) send(c cmd) bool {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return false
	}
	wake := len(w.cmds) == 0 // a non-empty queue already has a wake-up pending
	w.cmds = append(w.cmds, c)
	w.mu.Unlock()
	if wake {
		wakeFD(w.wakeFD)
	}
	return true
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
	w.rt = w.s.rt.Load()
	for {
		n, err := w.p.wait(w.events, w.timeout())
		w.now = time.Now()
		w.rt = w.s.rt.Load() // runtime changes apply from the next round
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
			c := w.conns[fd]
			if c == nil {
				continue
			}
			if ev.ready&readyWrite != 0 {
				w.flushQueue(c)
			}
			if !c.dead && (ev.ready&(readyRead|readyHup) != 0 || ev.ready == 0) {
				w.read(c, w.edge)
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
	w.mu.Lock()
	w.stopped = true
	left := w.cmds
	w.cmds = nil
	w.mu.Unlock()
	for _, c := range left {
		w.refuse(c)
	}
	w.publish()
	w.p.close()
	unix.Close(w.wakeFD)
}

// refuse answers a command the worker will not run.
func (w *worker) refuse(c cmd) {
	switch c.op {
	case opAdd:
		// A Dial that raced with Shutdown.
		w.s.tbl.remove(c.c.e)
		unix.Close(c.c.fd)
		w.nconns.Add(-1)
		w.s.open.Add(-1)
	case opWrite:
		c.done <- ErrClosed
	case opInfo:
		c.info <- nil
	}
}

// drain reads what the kernel had already queued for c when the stop came
// (SIOCINQ), and no more: a peer that keeps sending must not hold shutdown
// open for ever. Bytes that arrive later are not accepted.
func (w *worker) drain(c *conn) {
	left, err := unix.IoctlGetInt(c.fd, unix.SIOCINQ)
	if err != nil {
		return
	}
	for left > 0 && !c.dead {
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

// timeout is how long the next wait may block: until the nearest deadline,
// or for ever.
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
		case opWant:
			if cn := c.e.c; !cn.dead {
				w.watch(cn)
			}
		case opClose:
			if cn := c.e.c; !cn.dead {
				w.close(cn, c.e.failWhy, fmt.Errorf("write failed: %v", c.e.failWhy))
			}
		case opWrite:
			w.write(c)
		case opInfo:
			c.info <- w.info()
		}
	}
	clear(cmds)
	w.spare = cmds[:0]
	return stop
}

func (w *worker) add(c *conn) {
	c.fr.bufs = &w.bufs
	c.hidx = -1
	if c.outbound {
		w.st.Dialed++
	} else {
		w.st.Accepted++
	}
	w.st.Open++
	if err := w.p.add(c.fd, wantRead); err != nil {
		w.close(c, closedByError, err)
		return
	}
	w.conns[c.fd] = c
	c.last = instantOf(w.now)
	if !c.outbound && w.dataTO > 0 {
		// From accept, as in Kamailio (the acceptor stamped it).
		c.dataDead = instantOf(c.e.created.time().Add(w.dataTO))
	}
	w.schedule(c)
}

// lastActivity is the later of the last read and the last send attempt.
func (c *conn) lastActivity() time.Time {
	if lw := c.e.lastWrite.Load(); lw > int64(c.last) {
		return time.Unix(0, lw)
	}
	return c.last.time()
}

// lifeDeadline is when c's tcp_connection_lifetime ends. Both directions
// count as activity; as in Kamailio, a read keeps the lifetime the
// connection was made with, and a send re-arms it with the value configured
// at the send (spec §1.10). A connection made with "never" is not scheduled
// by a later send.
func (c *conn) lifeDeadline() (time.Time, bool) {
	life, at := c.lifetime, c.last.time()
	if lw := c.e.lastWrite.Load(); lw > int64(c.last) {
		life, at = time.Duration(c.e.sendLife.Load()), time.Unix(0, lw)
	}
	if life < 0 {
		return time.Time{}, false
	}
	return at.Add(life), true
}

// nextDeadline is the earliest of c's deadlines: lifetime, PROXY wait, send
// timeout and the wait rules (tcp_msg_read_timeout, tcp_msg_data_timeout).
func (c *conn) nextDeadline() (d time.Time, ok bool) {
	consider := func(t time.Time) {
		if !ok || t.Before(d) {
			d, ok = t, true
		}
	}
	if ld, has := c.lifeDeadline(); has {
		consider(ld)
	}
	if c.proxyWait {
		consider(c.proxyDead.time())
	}
	if c.sendDead != 0 {
		consider(c.sendDead.time())
	}
	if c.msgDead != 0 {
		consider(c.msgDead.time())
	}
	if c.dataDead != 0 {
		consider(c.dataDead.time())
	}
	return d, ok
}

// schedule puts c in the timer heap at its earliest deadline, or takes it
// out when it has none.
func (w *worker) schedule(c *conn) {
	d, ok := c.nextDeadline()
	if !ok {
		if c.hidx >= 0 {
			w.timers.remove(c)
		}
		return
	}
	c.deadline = instantOf(d)
	if c.hidx < 0 {
		w.timers.push(c)
	} else {
		w.timers.fix(c.hidx)
	}
}

// read reads c until a short read or readsPerRound reads (level-triggered)
// or until EAGAIN (edge-triggered), framing everything it reads.
func (w *worker) read(c *conn, untilEAGAIN bool) {
	for reads := 1; ; reads++ {
		if len(w.arena)-w.off < w.minRead {
			w.flush()
			if c.dead { // closed by tcp_script_mode
				return
			}
		}
		buf := w.arena[w.off:min(len(w.arena), w.off+readChunk)]
		n, err := unix.Read(c.fd, buf)
		if n > 0 {
			w.st.Bytes += uint64(n)
			c.bytesIn += uint64(n)
			c.last = instantOf(w.now)
			if ferr := w.frame(c, buf[:n]); ferr != nil {
				w.close(c, closedByError, ferr)
				return
			}
			if c.dead {
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
			w.close(c, errReason(err), fmt.Errorf("read: %w", err))
			return
		}
	}
}

// frame handles p, just read into the arena at w.off: the PROXY header
// first where one is due, then messages. Arena space is kept up to the end
// of the last frame that refers into it; an incomplete tail has been copied
// by the framer, so its bytes may be overwritten.
func (w *worker) frame(c *conn, p []byte) error {
	start := 0
	if c.proxyWait {
		rest, held, ok := w.proxy(c, p)
		if !ok {
			return nil
		}
		if held {
			// The header arrived in pieces: what follows it is in pbuf,
			// which frames may refer to until the batch is delivered.
			buf := c.pbuf
			c.pbuf = nil
			keep, err := w.cut(c, rest)
			if keep > 0 {
				w.owned = append(w.owned, buf)
			} else {
				w.bufs.put(buf)
			}
			return err
		}
		start = len(p) - len(rest)
	}
	keep, err := w.cut(c, p[start:])
	if keep > 0 {
		w.off += start + keep
	}
	return err
}

// proxy collects and applies c's PROXY header (tcp_accept_haproxy). It
// reports ok once the header is complete, with the bytes after it; held
// says they are in c.pbuf rather than in p. A connection that does not
// begin with a conforming header is closed.
func (w *worker) proxy(c *conn, p []byte) (rest []byte, held, ok bool) {
	b := p
	if c.pbuf != nil {
		c.pbuf = append(c.pbuf, p...)
		b = c.pbuf
	}
	h, n, err := proxyproto.Parse(b)
	if errors.Is(err, proxyproto.ErrIncomplete) {
		if c.pbuf == nil {
			c.pbuf = append(w.bufs.get(max(len(p), 512)), p...)
		}
		return nil, false, false
	}
	if err == nil && h.Transport == proxyproto.TransportUDP {
		// Kamailio refuses every v2 family but TCP over IPv4/IPv6 (§4.4).
		err = errors.New("PROXY header for a UDP connection")
	}
	if err != nil {
		w.close(c, rejectedProxy, fmt.Errorf("tcp_accept_haproxy: %w", err))
		return nil, false, false
	}
	if !h.Local {
		if !w.s.tbl.proxied(c.e, h.Src, h.Dst, w.s.cfg.AcceptUnique) {
			w.close(c, rejectedUnique, fmt.Errorf("tcp_accept_unique: a connection from %v to %v is open", h.Src, h.Dst))
			return nil, false, false
		}
	}
	c.proxyWait = false
	w.schedule(c)
	return b[n:], c.pbuf != nil, true
}

// cut frames p and handles what it finds: frames go into the batch, pings
// are answered, Via aliases registered. It returns the length of p that
// frames refer to.
func (w *worker) cut(c *conn, p []byte) (keep int, err error) {
	o := sipframe.Options{AcceptHEP3: w.s.cfg.AcceptHEP3, AcceptNoCL: w.rt.AcceptNoCL, CRLFPing: w.rt.CRLFPing}
	// The pongs of one read go out in one write: the same bytes, in order,
	// without a system call per ping.
	pongs := 0
	defer func() {
		for pongs > 0 && !c.dead {
			k := min(pongs, len(pongBuf)/2)
			w.writeOwn(c, pongBuf[:2*k])
			pongs -= k
		}
	}()
	ended := false // a message (or ping, or skipped bytes) ended in p
	for pos := 0; pos < len(p) || c.fr.held() > 0; {
		n, r, f, owned, err := c.fr.next(p[pos:], o)
		if err != nil {
			return keep, err
		}
		pos += n
		if r.Kind != sipframe.Incomplete {
			ended = true
		}
		switch r.Kind {
		case sipframe.Incomplete:
			w.msgPending(c, ended)
			return keep, nil
		case sipframe.Skip:
			continue
		case sipframe.Ping:
			w.st.Pings++
			pongs++
			continue
		}
		if owned != nil {
			w.owned = append(w.owned, owned)
		} else {
			keep = pos
		}
		kind := FrameHEP3
		if r.Kind == sipframe.SIP {
			kind = FrameSIP
			if w.rt.AcceptAliases {
				w.alias(c, f)
			}
		}
		c.framesIn++
		c.dataDead = 0 // tcp_msg_data_timeout is met (the heap catches up lazily)
		w.batch = append(w.batch, Frame{
			Kind:     kind,
			Data:     f[:len(f):len(f)], // an append by the sink must not run into our buffers
			ConnID:   c.id,
			Local:    c.e.local,
			Remote:   c.e.remote,
			Peer:     c.e.peer,
			Proxied:  c.e.proxied,
			RecvTime: w.now,
			Listener: int(c.e.listener),
		})
	}
	c.msgDead = 0 // nothing held: no message in progress
	return keep, nil
}

// msgPending runs tcp_msg_read_timeout's clock for the message c holds in
// part. The clock starts at the read that brought the message's first
// bytes: now, when the message began in this read (fresh: another one ended
// before it) or nothing was in progress. A later deadline leaves the heap
// alone (it catches up lazily); an earlier one moves c up, so on a busy
// stream whose reads end mid-frame the heap is touched about once per
// tcp_msg_read_timeout, not once per read.
func (w *worker) msgPending(c *conn, fresh bool) {
	if w.readTO <= 0 || c.fr.held() == 0 || c.msgDead != 0 && !fresh {
		return
	}
	c.msgDead = instantOf(w.now.Add(w.readTO))
	if c.hidx < 0 || c.msgDead < c.deadline {
		w.schedule(c)
	}
}

// alias registers the top Via's port of a request carrying ";alias" as
// another address of c (tcp_accept_aliases, spec §5.2).
func (w *worker) alias(c *conn, msg []byte) {
	port, ok := sipframe.TopViaAlias(msg)
	if !ok {
		return
	}
	a := netip.AddrPortFrom(c.e.remote.Addr(), port)
	added, full := w.s.tbl.alias(c.e, a)
	if added {
		w.st.Aliases++
	} else if full {
		w.s.rlog.Log(slog.LevelWarn, "alias-full", "tcp_accept_aliases: connection has too many aliases",
			"conn", c.id, "remote", c.e.remote, "alias", a, "max", maxAliases)
	}
}

// writeOwn writes b on c from its own worker (pongs): the same rules as
// Stack.Write, except that the worker cannot wait for itself, so with
// tcp_async=no it queues behind data already queued.
func (w *worker) writeOwn(c *conn, b []byte) {
	e := c.e
	e.touch(w.rt, w.now)
	if !w.s.cfg.Async {
		e.wmu.Lock()
		if e.queued() > 0 {
			ws := e.ws
			w.s.wqBlocks.Add(int64(ws.q.add(b, w.rt.WQBlkSize)))
			w.s.wqBytes.Add(int64(len(b)))
			ws.enq += uint64(len(b))
			e.wmu.Unlock()
			return
		}
		e.wmu.Unlock()
		if err := w.s.blockingWrite(e, b); err != nil {
			w.close(c, errReason(err), err)
		}
		return
	}
	e.wmu.Lock()
	want, err := w.s.queueLocked(e, b, w.now)
	e.wmu.Unlock()
	if err != nil {
		w.close(c, errReason(err), err)
		return
	}
	e.writes.Add(1)
	if want {
		w.watch(c)
	}
}

// write runs a Write handed over by another goroutine (tcp_fd_cache=no).
func (w *worker) write(cm cmd) {
	e := cm.e
	c := e.c
	if c.dead {
		cm.done <- ErrClosed
		return
	}
	if w.s.cfg.Async {
		e.wmu.Lock()
		want, err := w.s.queueLocked(e, cm.data, w.now)
		e.wmu.Unlock()
		if err != nil {
			w.close(c, errReason(err), err)
		} else if want {
			w.watch(c)
		}
		cm.done <- err
		return
	}
	// tcp_async=no: the caller waits until its bytes are written, or for
	// tcp_send_timeout from its call; the worker never blocks.
	e.wmu.Lock()
	rest := cm.data
	if e.queued() == 0 {
		n, err := writeSome(e.fd, rest)
		e.bytesOut.Add(uint64(n))
		if err != nil {
			e.wmu.Unlock()
			w.close(c, errReason(err), err) // answers the waiters too
			if errReason(err) == closedBySendTimeout {
				err = fmt.Errorf("%w: %v (TCP_USER_TIMEOUT)", ErrSendTimeout, err)
			}
			cm.done <- err
			return
		}
		rest = rest[n:]
	}
	if len(rest) == 0 {
		e.wmu.Unlock()
		cm.done <- nil
		return
	}
	ws := e.wside()
	w.s.wqBlocks.Add(int64(ws.q.add(rest, w.rt.WQBlkSize)))
	w.s.wqBytes.Add(int64(len(rest)))
	ws.enq += uint64(len(rest))
	ws.waiters = append(ws.waiters, waiter{end: ws.enq, deadline: cm.at.Add(w.rt.SendTimeout), done: cm.done})
	e.wantSent = true
	e.wmu.Unlock()
	w.watch(c)
}

// sendDeadline is when c's queue times out: tcp_send_timeout after the last
// progress (tcp_async), or the first waiting Write's deadline. Call with
// e.wmu held.
func (w *worker) sendDeadline(e *entry) time.Time {
	ws := e.ws
	switch {
	case ws == nil:
		return time.Time{}
	case len(ws.waiters) > 0:
		return ws.waiters[0].deadline
	case ws.q.n > 0:
		return ws.qDead.time()
	}
	return time.Time{}
}

// watch starts watching c for writability because its queue is not empty.
func (w *worker) watch(c *conn) {
	e := c.e
	e.wmu.Lock()
	queued := e.queued() > 0
	dead := w.sendDeadline(e)
	e.wmu.Unlock()
	if !queued || c.dead {
		return
	}
	if !c.writing {
		if err := w.p.modify(c.fd, wantRead|wantWrite); err != nil {
			w.close(c, closedByError, err)
			return
		}
		c.writing = true
	}
	c.sendDead = instantOf(dead)
	w.schedule(c)
}

// flushQueue writes c's queue as far as the socket takes it.
func (w *worker) flushQueue(c *conn) {
	e := c.e
	e.wmu.Lock()
	ws := e.wside()
	n, freed, err := ws.q.flush(e.fd)
	w.s.wqBytes.Add(-int64(n))
	w.s.wqBlocks.Add(-int64(freed))
	ws.written += uint64(n)
	e.bytesOut.Add(uint64(n))
	if n > 0 {
		ws.qDead = instantOf(w.now.Add(w.rt.SendTimeout)) // progress re-arms the deadline
	}
	for len(ws.waiters) > 0 && ws.waiters[0].end <= ws.written {
		ws.waiters[0].done <- nil
		ws.waiters = ws.waiters[1:]
	}
	empty := ws.q.n == 0
	if empty {
		e.wantSent = false
		if len(ws.waiters) == 0 {
			e.ws = nil // drained: an idle connection holds no queue
		}
	}
	dead := w.sendDeadline(e)
	e.wmu.Unlock()
	if err != nil {
		w.close(c, errReason(err), fmt.Errorf("write: %w", err))
		return
	}
	if empty {
		if c.writing {
			if err := w.p.modify(c.fd, wantRead); err != nil {
				w.close(c, closedByError, err)
				return
			}
			c.writing = false
		}
	}
	c.sendDead = instantOf(dead)
	w.schedule(c)
}

// deliver hands the batch to the sink and returns the indexes of frames it
// failed (a CheckedSink), cloning the data first with tcp_clone_rcvbuf.
func (w *worker) deliver() []int {
	if w.s.cfg.CloneRcvBuf {
		// One allocation per batch; each frame is a separate sub-slice the
		// sink may keep.
		total := 0
		for i := range w.batch {
			total += len(w.batch[i].Data)
		}
		buf := make([]byte, total)
		off := 0
		for i := range w.batch {
			f := &w.batch[i]
			n := copy(buf[off:], f.Data)
			f.Data = buf[off : off+n : off+n]
			off += n
		}
	}
	if cs, ok := w.s.sink.(CheckedSink); ok {
		w.failed = cs.DeliverChecked(w.batch, w.failed[:0])
		return w.failed
	}
	w.s.sink.Deliver(w.batch)
	return nil
}

// flush delivers the batch, then makes the arena and frame buffers reusable.
func (w *worker) flush() {
	if len(w.batch) > 0 {
		t0 := time.Now()
		failed := w.deliver()
		t1 := time.Now()
		w.st.DeliverBlocked += t1.Sub(t0)
		w.st.Deliveries++
		w.st.Frames += uint64(len(w.batch))
		// Time went on while Deliver blocked; timers and later frames of this
		// round see the time it returned.
		w.now = t1
		for _, i := range failed {
			if i < 0 || i >= len(w.batch) {
				continue
			}
			w.processingError(w.batch[i].ConnID)
		}
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

// processingError applies tcp_script_mode to a frame the sink failed.
func (w *worker) processingError(id uint64) {
	w.st.ProcessingErrors++
	if w.s.cfg.ScriptMode&1 != 0 {
		return
	}
	if e := w.s.tbl.get(id); e != nil && e.w == w && !e.c.dead {
		w.close(e.c, closedByProcessing, errors.New("frame processing failed (tcp_script_mode=0)"))
	}
}

// expire closes the connections whose PROXY wait, send timeout, wait rules
// (tcp_msg_read_timeout, tcp_msg_data_timeout) or lifetime have passed.
func (w *worker) expire() {
	for {
		d, ok := w.timers.next()
		if !ok || d.After(w.now) {
			return
		}
		c := w.timers[0]
		if c.proxyWait && !c.proxyDead.time().After(w.now) {
			if !w.unread(c) {
				w.close(c, rejectedProxy, fmt.Errorf("tcp_accept_haproxy: no PROXY header within tcp_wait_data (%v)", proxyWait(w.rt.WaitData)))
				continue
			}
			// The header may be waiting in the socket, unread while this
			// worker was blocked in Deliver: look at it first.
			c.proxyDead = instantOf(w.now.Add(proxyWait(w.rt.WaitData)))
		}
		if c.sendDead != 0 && !c.sendDead.time().After(w.now) {
			e := c.e
			e.wmu.Lock()
			dead := w.sendDeadline(e)
			e.wmu.Unlock()
			if !dead.IsZero() && !dead.After(w.now) {
				w.close(c, closedBySendTimeout, fmt.Errorf("%w: queued data made no progress for tcp_send_timeout", ErrSendTimeout))
				continue
			}
			c.sendDead = instantOf(dead)
		}
		readLate := c.msgDead != 0 && !c.msgDead.time().After(w.now)
		dataLate := c.dataDead != 0 && !c.dataDead.time().After(w.now)
		ld, has := c.lifeDeadline()
		idle := has && !ld.After(w.now)
		if (readLate || dataLate || idle) && w.unread(c) {
			// The peer sent bytes this worker has not read yet: it was
			// blocked in Deliver (backpressure) or they arrived during this
			// round. The wait was ours, not the peer's: restart the clocks
			// the peer is judged on rather than lose what it sent.
			c.last = instantOf(w.now)
			if readLate {
				c.msgDead = instantOf(w.now.Add(w.readTO))
			}
			if dataLate {
				c.dataDead = instantOf(w.now.Add(w.dataTO))
			}
			if d, ok := c.nextDeadline(); ok && !d.After(w.now) {
				// tcp_connection_lifetime=0: judge again once the bytes
				// are read, next round.
				c.deadline = instantOf(w.now.Add(time.Millisecond))
				w.timers.fix(c.hidx)
				continue
			}
			readLate, dataLate, idle = false, false, false
		}
		switch {
		case readLate:
			w.close(c, closedByReadTimeout, fmt.Errorf("tcp_msg_read_timeout: message not complete within %v of its first bytes (%d bytes held)", w.readTO, c.fr.held()))
			continue
		case dataLate:
			w.close(c, closedByDataTimeout, fmt.Errorf("tcp_msg_data_timeout: no complete message within %v of accept", w.dataTO))
			continue
		case idle:
			w.close(c, closedByLifetime, nil)
			continue
		}
		w.schedule(c)
	}
}

// unread reports whether c's socket holds bytes not read yet.
func (w *worker) unread(c *conn) bool {
	n, err := unix.IoctlGetInt(c.fd, unix.SIOCINQ)
	return err == nil && n > 0
}

func (w *worker) close(c *conn, why closeReason, err error) {
	if c.dead {
		return
	}
	c.dead = true
	if held := c.fr.held(); held > 0 && err == nil {
		err = &FrameError{Kind: ErrTruncated, Held: held, Limit: c.fr.limit}
	}
	c.fr.release()
	if c.pbuf != nil {
		w.bufs.put(c.pbuf)
		c.pbuf = nil
	}
	if w.conns[c.fd] == c {
		w.p.remove(c.fd)
		delete(w.conns, c.fd)
	}
	if c.hidx >= 0 {
		w.timers.remove(c)
	}
	s := w.s
	e := c.e
	s.tbl.remove(e)
	e.closing.Store(uint32(why) + 1)
	if s.cfg.FDCache {
		// Kamailio shuts cached sockets down before closing; here it also
		// ends a Write blocked on the socket in another goroutine, which
		// holds e.wmu (and learns the reason from e.closing).
		unix.Shutdown(c.fd, unix.SHUT_RDWR)
	}
	e.wmu.Lock()
	e.closed = true
	s.dropQueueLocked(e)
	werr := ErrClosed
	if why == closedBySendTimeout {
		werr = ErrSendTimeout
	}
	if e.ws != nil {
		for _, wt := range e.ws.waiters {
			wt.done <- werr
		}
		e.ws.waiters = nil
	}
	unix.Close(c.fd)
	e.fd = -1
	e.wmu.Unlock()
	w.nconns.Add(-1)
	s.open.Add(-1)
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
	case closedBySendTimeout:
		w.st.ClosedBySendTimeout++
	case closedByQueue:
		w.st.ClosedByQueue++
	case closedByProcessing:
		w.st.ClosedByProcessing++
	case rejectedUnique:
		s.rejUnique.Add(1)
	case rejectedProxy:
		s.rejProxy.Add(1)
	case closedByReadTimeout:
		w.st.ClosedByReadTimeout++
	case closedByDataTimeout:
		w.st.ClosedByDataTimeout++
	}
	if err == nil {
		return
	}
	var fe *FrameError
	if errors.As(err, &fe) {
		w.st.FrameErrors.count(fe.Kind)
		s.rlog.Log(slog.LevelWarn, "frame:"+fe.Kind.String(), "tcp connection closed: invalid stream",
			"reason", fe.Kind.String(), "err", err, "local", c.e.local, "remote", c.e.remote, "conn", c.id)
		return
	}
	s.rlog.Log(slog.LevelWarn, "close:"+why.String(), "tcp connection closed",
		"reason", why.String(), "err", err, "local", c.e.local, "remote", c.e.remote, "peer", c.e.peer, "conn", c.id)
}

// info describes the worker's connections (Stack.Conns).
func (w *worker) info() []ConnInfo {
	var out []ConnInfo
	for _, c := range w.conns {
		if c == nil {
			continue
		}
		e := c.e
		_, _, _, aliases := w.s.tbl.addrs(e)
		e.wmu.Lock()
		queued := e.queued()
		e.wmu.Unlock()
		state := "open"
		switch {
		case c.proxyWait:
			state = "proxy-wait"
		case queued > 0:
			state = "writing"
		}
		now := time.Now()
		out = append(out, ConnInfo{
			ID: c.id, Worker: w.id, Outbound: c.outbound,
			Local: c.e.local, Remote: c.e.remote, Peer: c.e.peer, Proxied: c.e.proxied,
			Aliases: aliases, State: state,
			Age: now.Sub(c.e.created.time()), Idle: now.Sub(c.lastActivity()),
			BytesIn: c.bytesIn, BytesOut: e.bytesOut.Load(), FramesIn: c.framesIn,
			WritesOut: e.writes.Load(), WriteQueue: queued,
		})
	}
	return out
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
