package tcpstack

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Socket options by socket kind (spec §0.5).
//
// Listener: SO_REUSEADDR, TCP_NODELAY, SO_REUSEPORT (tcp_reuse_port),
// TCP_DEFER_ACCEPT (tcp_defer_accept), TCP_SYNCNT (SYN-ACK retries),
// TCP_LINGER2, SO_KEEPALIVE, TCP_KEEPIDLE/KEEPINTVL/KEEPCNT and
// TCP_USER_TIMEOUT (tcp_send_timeout).
//
// Accepted: nothing is set per socket. Linux copies TCP_NODELAY, SO_KEEPALIVE,
// the three keepalive values, TCP_LINGER2 and TCP_USER_TIMEOUT from the
// listener on accept, so accepted sockets carry them at no cost per accept.
// Where Kamailio sets listener options once, so that runtime changes never
// reach accepted sockets (spec §0.3, §11.9), hepd re-applies a runtime
// change to the listeners at once: connections whose handshake completes
// afterwards get the new values, existing ones keep theirs.
//
// Outbound: SO_REUSEADDR, TCP_NODELAY, SO_REUSEPORT (tcp_reuse_port),
// TCP_SYNCNT, TCP_LINGER2, keepalive, TCP_USER_TIMEOUT and TCP_QUICKACK=0
// (tcp_delayed_ack), all before connect, from the runtime values of the
// moment.

// sockOpts are the options both listeners and outbound sockets take from
// the runtime configuration.
type sockOpts struct {
	keepAlive                    bool
	keepIdle, keepIntvl, keepCnt int
	linger2, synCnt              int
	userTimeout                  time.Duration // tcp_send_timeout
}

func optsOf(r *Runtime) sockOpts {
	return sockOpts{
		keepAlive: r.KeepAlive, keepIdle: r.KeepIdle, keepIntvl: r.KeepIntvl, keepCnt: r.KeepCnt,
		linger2: r.Linger2, synCnt: r.SynCnt, userTimeout: r.SendTimeout,
	}
}

// setInt sets one option, naming the parameter it serves in the error.
func setInt(fd, level, opt int, param string, v int) error {
	if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
		return fmt.Errorf("%s: setsockopt %d: %w", param, v, err)
	}
	return nil
}

// apply sets the options of o on fd. With prev nil (a new socket) an option
// at 0 is left at the kernel's value, as Kamailio does; otherwise only what
// changed from prev is set, and 0 puts back the kernel's default.
func (o sockOpts) apply(fd int, prev *sockOpts, listener bool) error {
	type opt struct {
		level, name int
		param       string
		v, old      int
		sysctl      string // the kernel default that 0 stands for
	}
	var p sockOpts
	if prev != nil {
		p = *prev
	}
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	synDefault := "tcp_syn_retries"
	if listener {
		synDefault = "tcp_synack_retries"
	}
	opts := []opt{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, "tcp_keepalive", b2i(o.keepAlive), b2i(p.keepAlive), ""},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, "tcp_keepidle", o.keepIdle, p.keepIdle, "tcp_keepalive_time"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, "tcp_keepintvl", o.keepIntvl, p.keepIntvl, "tcp_keepalive_intvl"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, "tcp_keepcnt", o.keepCnt, p.keepCnt, "tcp_keepalive_probes"},
		{unix.IPPROTO_TCP, unix.TCP_LINGER2, "tcp_linger2", o.linger2, p.linger2, ""},
		{unix.IPPROTO_TCP, unix.TCP_SYNCNT, "tcp_syncnt", o.synCnt, p.synCnt, synDefault},
		{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, "tcp_send_timeout", ms(o.userTimeout), ms(p.userTimeout), ""},
	}
	for _, x := range opts {
		v := x.v
		if prev == nil {
			if v == 0 {
				continue
			}
		} else if v == x.old {
			continue
		} else if v == 0 && x.sysctl != "" {
			// These options refuse 0: write the kernel's default instead.
			d, err := kernelDefault(x.sysctl)
			if err != nil {
				return fmt.Errorf("%s: back to the kernel default: %w", x.param, err)
			}
			v = d
		}
		if err := setInt(fd, x.level, x.name, x.param, v); err != nil {
			return err
		}
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// kernelDefault reads a net.ipv4 sysctl (of the current network namespace).
func kernelDefault(name string) (int, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// setListenerOpts applies the runtime-dependent listener options of r to
// every listener, only what changed from prev (nil: all, at start-up).
func (s *Stack) setListenerOpts(r, prev *Runtime) error {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.lclosed {
		return nil
	}
	o := optsOf(r)
	var po *sockOpts
	if prev != nil {
		p := optsOf(prev)
		po = &p
	}
	for _, l := range s.listeners {
		if err := o.apply(l.fd, po, true); err != nil {
			return fmt.Errorf("listen %v: %w", l.addr, err)
		}
	}
	return nil
}
