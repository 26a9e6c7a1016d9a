package tcpstack

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// epollPoller implements epoll_lt and epoll_et.
type epollPoller struct {
	epfd int
	et   bool
	evs  []unix.EpollEvent // kernel-side buffer, grown to the caller's slice once
}

func newEpoll(et bool) (*epollPoller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &epollPoller{epfd: fd, et: et}, nil
}

func (p *epollPoller) flags(in interest) uint32 {
	var f uint32
	if in&wantRead != 0 {
		f |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if in&wantWrite != 0 {
		f |= unix.EPOLLOUT
	}
	if p.et {
		f |= unix.EPOLLET
	}
	return f
}

func (p *epollPoller) add(fd int, in interest) error {
	ev := unix.EpollEvent{Events: p.flags(in), Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add fd %d: %w", fd, err)
	}
	return nil
}

func (p *epollPoller) modify(fd int, in interest) error {
	ev := unix.EpollEvent{Events: p.flags(in), Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl mod fd %d: %w", fd, err)
	}
	return nil
}

func (p *epollPoller) remove(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("epoll_ctl del fd %d: %w", fd, err)
	}
	return nil
}

func (p *epollPoller) wait(events []event, timeout time.Duration) (int, error) {
	if len(p.evs) < len(events) {
		p.evs = make([]unix.EpollEvent, len(events))
	}
	n, err := unix.EpollWait(p.epfd, p.evs[:len(events)], timeoutMillis(timeout))
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return 0, nil
		}
		return 0, fmt.Errorf("epoll_wait: %w", err)
	}
	for i, ev := range p.evs[:n] {
		var r readiness
		if ev.Events&unix.EPOLLIN != 0 {
			r |= readyRead
		}
		if ev.Events&unix.EPOLLOUT != 0 {
			r |= readyWrite
		}
		if ev.Events&(unix.EPOLLHUP|unix.EPOLLERR|unix.EPOLLRDHUP) != 0 {
			r |= readyHup
		}
		events[i] = event{fd: ev.Fd, ready: r}
	}
	return n, nil
}

func (p *epollPoller) edge() bool { return p.et }

func (p *epollPoller) close() error { return unix.Close(p.epfd) }
