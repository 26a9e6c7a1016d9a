package tcpstack

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// fdSetSize is FD_SETSIZE: select cannot watch a fd at or above it.
const fdSetSize = 1024

// watched marks a fd as added in selectPoller.in, even with no interest.
const watched interest = 0x80

// selectPoller implements select: level-triggered, bounded by FD_SETSIZE.
// A fd that does not fit is refused by add, so the connection is closed and
// counted rather than silently never read.
type selectPoller struct {
	fds      []int // watched fds, in insertion order
	in       [fdSetSize]interest
	pos      [fdSetSize]int32 // fd → position in fds
	rd, wr   unix.FdSet       // what is watched
	rout     unix.FdSet       // scratch copies handed to select(2)
	wout     unix.FdSet
	maxFD    int
	tv       unix.Timeval
	start    int
	maxDirty bool
}

func newSelectPoller() *selectPoller {
	return &selectPoller{maxFD: -1}
}

func (p *selectPoller) add(fd int, in interest) error {
	if fd < 0 || fd >= fdSetSize {
		return fmt.Errorf("select: fd %d does not fit FD_SETSIZE (%d); use another tcp_poll_method for more connections", fd, fdSetSize)
	}
	if p.in[fd] != 0 {
		return fmt.Errorf("select: fd %d already added", fd)
	}
	p.pos[fd] = int32(len(p.fds))
	p.fds = append(p.fds, fd)
	p.set(fd, in)
	p.maxFD = max(p.maxFD, fd)
	return nil
}

func (p *selectPoller) set(fd int, in interest) {
	p.in[fd] = in | watched
	p.rd.Clear(fd)
	p.wr.Clear(fd)
	if in&wantRead != 0 {
		p.rd.Set(fd)
	}
	if in&wantWrite != 0 {
		p.wr.Set(fd)
	}
}

func (p *selectPoller) modify(fd int, in interest) error {
	if fd < 0 || fd >= fdSetSize || p.in[fd] == 0 {
		return fmt.Errorf("select: fd %d not added", fd)
	}
	p.set(fd, in)
	return nil
}

func (p *selectPoller) remove(fd int) error {
	if fd < 0 || fd >= fdSetSize || p.in[fd] == 0 {
		return fmt.Errorf("select: fd %d not added", fd)
	}
	i := int(p.pos[fd])
	last := len(p.fds) - 1
	if i != last {
		p.fds[i] = p.fds[last]
		p.pos[p.fds[i]] = int32(i)
	}
	p.fds = p.fds[:last]
	p.in[fd] = 0
	p.rd.Clear(fd)
	p.wr.Clear(fd)
	if fd == p.maxFD {
		p.maxDirty = true
	}
	return nil
}

func (p *selectPoller) wait(events []event, timeout time.Duration) (int, error) {
	if p.maxDirty {
		p.maxFD = -1
		for _, fd := range p.fds {
			p.maxFD = max(p.maxFD, fd)
		}
		p.maxDirty = false
	}
	p.rout, p.wout = p.rd, p.wr
	var tv *unix.Timeval
	if timeout >= 0 {
		// Linux select(2) rewrites the timeval, so it is rebuilt every call.
		ms := timeoutMillis(timeout)
		p.tv = unix.NsecToTimeval(int64(ms) * int64(time.Millisecond))
		tv = &p.tv
	}
	ready, err := unix.Select(p.maxFD+1, &p.rout, &p.wout, nil, tv)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return 0, nil
		}
		return 0, fmt.Errorf("select: %w", err)
	}
	if ready == 0 || len(p.fds) == 0 {
		return 0, nil
	}
	if p.start >= len(p.fds) {
		p.start = 0
	}
	n := 0
	for k := range len(p.fds) {
		if n == len(events) {
			break
		}
		fd := p.fds[(p.start+k)%len(p.fds)]
		var r readiness
		if p.rout.IsSet(fd) {
			r |= readyRead
		}
		if p.wout.IsSet(fd) {
			r |= readyWrite
		}
		if r != 0 {
			events[n] = event{fd: int32(fd), ready: r}
			n++
		}
	}
	p.start++
	return n, nil
}

func (p *selectPoller) edge() bool { return false }

func (p *selectPoller) close() error { return nil }
