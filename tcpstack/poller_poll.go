package tcpstack

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// pollPoller implements poll: level-triggered, one pollfd per watched fd.
type pollPoller struct {
	fds   []unix.PollFd
	index map[int]int // fd → position in fds
	start int         // where the next scan of fds begins, so no fd starves
}

func newPollPoller() *pollPoller {
	return &pollPoller{index: make(map[int]int)}
}

func pollEvents(in interest) int16 {
	var e int16
	if in&wantRead != 0 {
		e |= unix.POLLIN | unix.POLLRDHUP
	}
	if in&wantWrite != 0 {
		e |= unix.POLLOUT
	}
	return e
}

func (p *pollPoller) add(fd int, in interest) error {
	if _, ok := p.index[fd]; ok {
		return fmt.Errorf("poll: fd %d already added", fd)
	}
	p.index[fd] = len(p.fds)
	p.fds = append(p.fds, unix.PollFd{Fd: int32(fd), Events: pollEvents(in)})
	return nil
}

func (p *pollPoller) modify(fd int, in interest) error {
	i, ok := p.index[fd]
	if !ok {
		return fmt.Errorf("poll: fd %d not added", fd)
	}
	p.fds[i].Events = pollEvents(in)
	return nil
}

func (p *pollPoller) remove(fd int) error {
	i, ok := p.index[fd]
	if !ok {
		return fmt.Errorf("poll: fd %d not added", fd)
	}
	last := len(p.fds) - 1
	if i != last {
		p.fds[i] = p.fds[last]
		p.index[int(p.fds[i].Fd)] = i
	}
	p.fds = p.fds[:last]
	delete(p.index, fd)
	return nil
}

func (p *pollPoller) wait(events []event, timeout time.Duration) (int, error) {
	ready, err := unix.Poll(p.fds, timeoutMillis(timeout))
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return 0, nil
		}
		return 0, fmt.Errorf("poll: %w", err)
	}
	n := 0
	if ready == 0 || len(p.fds) == 0 {
		return 0, nil
	}
	if p.start >= len(p.fds) {
		p.start = 0
	}
	for k := range len(p.fds) {
		if n == len(events) {
			break
		}
		i := (p.start + k) % len(p.fds)
		re := p.fds[i].Revents
		if re == 0 {
			continue
		}
		var r readiness
		if re&unix.POLLIN != 0 {
			r |= readyRead
		}
		if re&unix.POLLOUT != 0 {
			r |= readyWrite
		}
		if re&(unix.POLLHUP|unix.POLLERR|unix.POLLRDHUP|unix.POLLNVAL) != 0 {
			r |= readyHup
		}
		events[n] = event{fd: p.fds[i].Fd, ready: r}
		n++
	}
	p.start++
	return n, nil
}

func (p *pollPoller) edge() bool { return false }

func (p *pollPoller) close() error { return nil }
