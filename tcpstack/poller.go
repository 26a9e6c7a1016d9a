package tcpstack

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// interest is what a poller watches a fd for.
type interest uint8

const (
	wantRead interest = 1 << iota
	wantWrite
)

// readiness is what a poller reports for a fd.
type readiness uint8

const (
	readyRead readiness = 1 << iota
	readyWrite
	// readyHup covers hang-up and error conditions; the read that follows
	// tells which, so callers treat it like readyRead.
	readyHup
)

// event is one ready fd returned by poller.wait.
type event struct {
	fd    int32
	ready readiness
}

// poller is a readiness mechanism (tcp_poll_method). One is owned by one
// goroutine: implementations are not safe for concurrent use.
type poller interface {
	// add starts watching fd. It fails if fd cannot be watched (for select:
	// fd ≥ FD_SETSIZE).
	add(fd int, in interest) error
	// modify changes what fd is watched for.
	modify(fd int, in interest) error
	// remove stops watching fd. It must be called before fd is closed.
	remove(fd int) error
	// wait blocks until at least one fd is ready or timeout passes
	// (negative: no timeout) and fills events, returning how many it filled.
	// It allocates nothing. An interrupted wait returns 0 events.
	wait(events []event, timeout time.Duration) (int, error)
	// edge reports whether readiness is reported only on change, so that a
	// reader must read until EAGAIN before waiting again.
	edge() bool
	close() error
}

// pollMethod is a parsed tcp_poll_method.
type pollMethod uint8

const (
	methodEpollLT pollMethod = iota + 1
	methodEpollET
	methodPoll
	methodSelect
)

func (m pollMethod) String() string {
	switch m {
	case methodEpollLT:
		return "epoll_lt"
	case methodEpollET:
		return "epoll_et"
	case methodPoll:
		return "poll"
	case methodSelect:
		return "select"
	}
	return fmt.Sprintf("pollMethod(%d)", uint8(m))
}

const availableMethods = "epoll_lt, epoll_et, poll, select"

// CheckPollMethod returns an error naming the methods this OS has unless
// name is a tcp_poll_method value the stack can use, so that configuration
// is refused at load time with the same words New would use.
func CheckPollMethod(name string) error {
	_, err := parsePollMethod(name)
	return err
}

// parsePollMethod maps a tcp_poll_method value, matched case-insensitively
// against Kamailio's names, to an implementation.
func parsePollMethod(s string) (pollMethod, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return methodEpollLT, nil
	case "epoll_lt":
		return methodEpollLT, nil
	case "epoll_et":
		return methodEpollET, nil
	case "poll":
		return methodPoll, nil
	case "select":
		return methodSelect, nil
	case "kqueue", "/dev/poll":
		return 0, fmt.Errorf("tcp_poll_method: %s is not available on linux (available: %s)", s, availableMethods)
	case "sigio_rt":
		return 0, fmt.Errorf("tcp_poll_method: %s is not implemented by hepd (available: %s)", s, availableMethods)
	}
	return 0, fmt.Errorf("tcp_poll_method: unknown method %q (available: %s)", s, availableMethods)
}

func newPoller(m pollMethod) (poller, error) {
	switch m {
	case methodEpollLT:
		return newEpoll(false)
	case methodEpollET:
		return newEpoll(true)
	case methodPoll:
		return newPollPoller(), nil
	case methodSelect:
		return newSelectPoller(), nil
	}
	return nil, fmt.Errorf("tcp_poll_method: %v has no implementation", m)
}

// timeoutMillis converts a wait timeout for the millisecond-based system
// calls, rounding up so that a timer is never woken for too early.
func timeoutMillis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(ms)
}
