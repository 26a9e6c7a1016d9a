package tcpstack

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Errors of the write and dial paths; the returned errors wrap them with the
// connection and the parameter involved.
var (
	// ErrClosed: the connection is not (or no longer) open.
	ErrClosed = errors.New("connection closed")
	// ErrQueueFull: tcp_conn_wq_max or tcp_wq_max would be exceeded; the
	// connection has been closed.
	ErrQueueFull = errors.New("write queue full")
	// ErrSendTimeout: tcp_send_timeout passed without the data being
	// written; the connection has been closed.
	ErrSendTimeout = errors.New("send timeout")
	// ErrNoConnect: tcp_no_connect is set and no live connection matched.
	ErrNoConnect = errors.New("tcp_no_connect is set and no connection to reuse")
	// ErrMaxConnections: tcp_max_connections is reached.
	ErrMaxConnections = errors.New("tcp_max_connections reached")
)

// wqueue is a connection's write queue: blocks of at least tcp_wq_blk_size
// bytes, each filled before the next is allocated (Kamailio's wbuf_queue).
type wqueue struct {
	blocks [][]byte // blocks[0] may be partly written: it is resliced
	n      int
}

// add appends b, filling the last block's spare capacity first; it returns
// how many blocks it allocated.
func (q *wqueue) add(b []byte, blk int) int {
	q.n += len(b)
	if l := len(q.blocks); l > 0 {
		last := q.blocks[l-1]
		k := copy(last[len(last):cap(last)], b)
		q.blocks[l-1] = last[:len(last)+k]
		b = b[k:]
	}
	if len(b) == 0 {
		return 0
	}
	nb := make([]byte, len(b), max(blk, len(b)))
	copy(nb, b)
	q.blocks = append(q.blocks, nb)
	return 1
}

// flush writes from the front until the queue is empty or the socket would
// block; it returns the bytes written and the blocks freed. EAGAIN is not
// an error.
func (q *wqueue) flush(fd int) (n, freed int, err error) {
	for len(q.blocks) > 0 {
		k, werr := unix.Write(fd, q.blocks[0])
		if k > 0 {
			n += k
			q.n -= k
			q.blocks[0] = q.blocks[0][k:]
			if len(q.blocks[0]) == 0 {
				q.blocks[0] = nil
				q.blocks = q.blocks[1:]
				freed++
			}
		}
		switch {
		case werr == nil:
		case errors.Is(werr, unix.EINTR):
		case errors.Is(werr, unix.EAGAIN):
			return n, freed, nil
		default:
			return n, freed, werr
		}
	}
	q.blocks = nil
	return n, freed, nil
}

// waiter is a blocking Write (tcp_async=no, tcp_fd_cache=no) handed to the
// owning worker: it is answered once the queue has written past end, or
// with an error when deadline passes or the connection closes.
type waiter struct {
	end      uint64
	deadline time.Time
	done     chan error
}

// writeSome writes b until done or the socket would block.
func writeSome(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := unix.Write(fd, b[n:])
		if k > 0 {
			n += k
		}
		switch {
		case err == nil:
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return n, nil
		default:
			return n, err
		}
	}
	return n, nil
}

// Write sends b on connection id: an accepted or a dialed one. With
// tcp_async (the default) it never blocks: what the socket does not take at
// once is queued (tcp_wq_blk_size blocks, tcp_conn_wq_max per connection,
// tcp_wq_max in all) and written by the owning worker as the socket drains;
// a queue that makes no progress for tcp_send_timeout closes the
// connection. With tcp_async=no it returns once everything is written, or
// fails after tcp_send_timeout. With tcp_fd_cache the calling goroutine
// writes on the socket itself; without, it hands b to the owning worker and
// waits for its verdict. A failed write closes the connection, as Kamailio
// does. b is not retained.
func (s *Stack) Write(id uint64, b []byte) error {
	e := s.tbl.get(id)
	if e == nil {
		return fmt.Errorf("tcpstack: write to connection %d: %w", id, ErrClosed)
	}
	e.touch(s.rt.Load(), time.Now())
	if len(b) == 0 {
		return nil
	}
	var err error
	switch {
	case s.cfg.FDCache && s.cfg.Async:
		err = s.queueWrite(e, b)
	case s.cfg.FDCache:
		err = s.blockingWrite(e, b)
	default:
		done := make(chan error, 1)
		if !e.w.send(cmd{op: opWrite, e: e, data: bytes.Clone(b), done: done, at: time.Now()}) {
			err = ErrClosed
		} else {
			err = <-done
		}
	}
	if err != nil {
		return fmt.Errorf("tcpstack: write to connection %d: %w", id, err)
	}
	e.writes.Add(1)
	return nil
}

// queueWrite is the tcp_async write: direct while the queue is empty, the
// rest queued within the limits. It runs on any goroutine.
func (s *Stack) queueWrite(e *entry, b []byte) error {
	e.wmu.Lock()
	want, err := s.queueLocked(e, b, time.Now())
	e.wmu.Unlock()
	if want {
		e.w.send(cmd{op: opWant, e: e})
	}
	return err
}

// queueLocked does queueWrite's work with e.wmu held. It reports whether
// the queue became non-empty, so the owner must watch for writability.
func (s *Stack) queueLocked(e *entry, b []byte, now time.Time) (want bool, err error) {
	if e.closed {
		return false, ErrClosed
	}
	rt := s.rt.Load()
	rest := b
	if e.queued() == 0 {
		n, err := writeSome(e.fd, b)
		e.bytesOut.Add(uint64(n))
		if err != nil {
			return false, s.writeFailedLocked(e, err)
		}
		rest = b[n:]
		if len(rest) == 0 {
			return false, nil
		}
	} else if !now.Before(e.ws.qDead.time()) {
		s.failLocked(e, closedBySendTimeout)
		return false, fmt.Errorf("%w: no progress for tcp_send_timeout %v", ErrSendTimeout, rt.SendTimeout)
	}
	if e.queued()+len(rest) > rt.ConnWQMax {
		q := e.queued()
		s.failLocked(e, closedByQueue)
		return false, fmt.Errorf("%w: %d queued + %d > tcp_conn_wq_max %d", ErrQueueFull, q, len(rest), rt.ConnWQMax)
	}
	if total := s.wqBytes.Add(int64(len(rest))); total > int64(rt.WQMax) {
		s.wqBytes.Add(-int64(len(rest)))
		s.failLocked(e, closedByQueue)
		return false, fmt.Errorf("%w: %d queued in all + %d > tcp_wq_max %d", ErrQueueFull, total-int64(len(rest)), len(rest), rt.WQMax)
	}
	wasEmpty := e.queued() == 0
	ws := e.wside()
	s.wqBlocks.Add(int64(ws.q.add(rest, rt.WQBlkSize)))
	ws.enq += uint64(len(rest))
	if wasEmpty {
		ws.qDead = instantOf(now.Add(rt.SendTimeout))
	}
	if !e.wantSent {
		e.wantSent = true
		return true, nil
	}
	return false, nil
}

// blockingWrite is the tcp_async=no write with tcp_fd_cache: the caller
// writes on the socket itself, waiting for writability, for at most
// tcp_send_timeout in all (Kamailio's tsend_stream).
func (s *Stack) blockingWrite(e *entry, b []byte) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if e.closed {
		return ErrClosed
	}
	st := s.rt.Load().SendTimeout
	deadline := time.Now().Add(st)
	for len(b) > 0 {
		n, err := writeSome(e.fd, b)
		e.bytesOut.Add(uint64(n))
		b = b[n:]
		if err != nil {
			return s.writeFailedLocked(e, err)
		}
		if len(b) == 0 {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			s.failLocked(e, closedBySendTimeout)
			return fmt.Errorf("%w: %d bytes left after tcp_send_timeout %v", ErrSendTimeout, len(b), st)
		}
		// The owning worker shuts the socket down before it closes it, which
		// ends this wait; it cannot close the descriptor while we hold wmu.
		pfd := []unix.PollFd{{Fd: int32(e.fd), Events: unix.POLLOUT}}
		if _, err := unix.Poll(pfd, timeoutMillis(left)); err != nil && !errors.Is(err, unix.EINTR) {
			s.failLocked(e, closedByError)
			return err
		}
	}
	return nil
}

// writeFailedLocked fails e after a write error and returns the error to
// report: a kernel timeout is tcp_send_timeout's TCP_USER_TIMEOUT.
func (s *Stack) writeFailedLocked(e *entry, err error) error {
	why := errReason(err)
	if r := e.closing.Load(); r > 0 {
		// The owner is closing the socket under us (the shutdown ended our
		// write): its reason is the one to report.
		why = closeReason(r - 1)
		if why != closedBySendTimeout {
			s.failLocked(e, why)
			return fmt.Errorf("%w (%v)", ErrClosed, why)
		}
	}
	s.failLocked(e, why)
	if why == closedBySendTimeout {
		return fmt.Errorf("%w: %v (TCP_USER_TIMEOUT)", ErrSendTimeout, err)
	}
	return err
}

// failLocked marks e failed (writes fail from now on), gives its queued
// bytes back to tcp_wq_max, and asks the owning worker to close it.
func (s *Stack) failLocked(e *entry, why closeReason) {
	if e.closed {
		return
	}
	e.closed = true
	e.failWhy = why
	s.dropQueueLocked(e)
	e.w.send(cmd{op: opClose, e: e})
}

func (s *Stack) dropQueueLocked(e *entry) {
	if e.ws == nil {
		return
	}
	s.wqBytes.Add(-int64(e.ws.q.n))
	s.wqBlocks.Add(-int64(len(e.ws.q.blocks)))
	e.ws.q = wqueue{}
}

// touch records a send attempt: as in Kamailio, it re-arms the connection's
// lifetime with the value configured now (spec §1.10).
func (e *entry) touch(rt *Runtime, now time.Time) {
	e.sendLife.Store(int64(rt.ConnectionLifetime))
	e.lastWrite.Store(now.UnixNano())
}
