package tcpstack

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// listener is one bound, listening socket.
type listener struct {
	fd   int
	addr netip.AddrPort
}

// listenBacklog is Kamailio's tcp_listen_backlog default.
const listenBacklog = 1024

// listen opens a listener with Kamailio's options: SO_REUSEADDR (failure is
// fatal, as in Kamailio), TCP_NODELAY (inherited by accepted sockets),
// SO_REUSEPORT (tcp_reuse_port, before bind), TCP_DEFER_ACCEPT
// (tcp_defer_accept) and a backlog of 1024, which Go's net.Listen would size
// from somaxconn instead. The runtime-dependent options follow in
// Stack.setListenerOpts.
func listen(ap netip.AddrPort, cfg *Config) (listener, error) {
	family := unix.AF_INET6
	if ap.Addr().Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return listener{}, fmt.Errorf("listen %v: socket: %w", ap, err)
	}
	fail := func(what string, err error) (listener, error) {
		unix.Close(fd)
		return listener{}, fmt.Errorf("listen %v: %s: %w", ap, what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("TCP_NODELAY", err)
	}
	if cfg.ReusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("tcp_reuse_port: SO_REUSEPORT", err)
		}
	}
	if cfg.DeferAccept > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, cfg.DeferAccept); err != nil {
			return fail("tcp_defer_accept: TCP_DEFER_ACCEPT", err)
		}
	}
	if err := unix.Bind(fd, sockaddr(ap)); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		return fail("listen", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	return listener{fd: fd, addr: addrPort(sa)}, nil
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	if z := ap.Addr().Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return sa
}

// addrPort converts a socket address; IPv4-mapped IPv6 peers of a dual-stack
// listener are reported as IPv4.
func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// acceptor accepts on every listener and hands connections to workers.
type acceptor struct {
	s      *Stack
	p      poller
	wakeFD int
	events []event
	done   chan struct{}

	acceptErrors atomic.Uint64
}

func newAcceptor(s *Stack, m pollMethod) (*acceptor, error) {
	p, err := newPoller(m)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	a := &acceptor{s: s, p: p, wakeFD: efd, events: make([]event, 64), done: make(chan struct{})}
	if err := p.add(efd, wantRead); err != nil {
		a.closeFDs()
		return nil, err
	}
	for _, l := range s.listeners {
		if err := p.add(l.fd, wantRead); err != nil {
			a.closeFDs()
			return nil, fmt.Errorf("listen %v: %w", l.addr, err)
		}
	}
	return a, nil
}

func (a *acceptor) closeFDs() {
	a.p.close()
	unix.Close(a.wakeFD)
}

// run accepts until woken through wakeFD, then closes the listeners: the
// first step of Shutdown.
func (a *acceptor) run() {
	defer close(a.done)
	for {
		n, err := a.p.wait(a.events, -1)
		if err != nil {
			a.s.log.Error("tcp acceptor poll failed; no longer accepting", "err", err)
			a.stop()
			return
		}
		for _, ev := range a.events[:n] {
			if int(ev.fd) == a.wakeFD {
				a.stop()
				return
			}
			a.accept(int(ev.fd))
		}
	}
}

func (a *acceptor) stop() {
	a.s.lmu.Lock()
	for _, l := range a.s.listeners {
		a.p.remove(l.fd)
		unix.Close(l.fd)
	}
	a.s.lclosed = true
	a.s.lmu.Unlock()
	a.closeFDs()
}

// accept takes every pending connection from listener fd (until EAGAIN, which
// both level- and edge-triggered pollers are fine with).
func (a *acceptor) accept(lfd int) {
	s := a.s
	li := -1
	for i, l := range s.listeners {
		if l.fd == lfd {
			li = i
			break
		}
	}
	for {
		fd, sa, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			continue
		case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE), errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.ENOMEM):
			// Out of descriptors or memory: the listener stays readable, so
			// returning at once would spin. Pause accepting briefly; the
			// peers wait in the backlog meanwhile.
			a.acceptErrors.Add(1)
			s.rlog.Log(slog.LevelError, "accept-resources", "tcp accept failed: out of file descriptors or memory; accepting paused 100ms (raise ulimit -n)", "err", err)
			time.Sleep(100 * time.Millisecond)
			return
		default:
			a.acceptErrors.Add(1)
			s.rlog.Log(slog.LevelError, "accept", "tcp accept failed", "err", err)
			return
		}
		remote := addrPort(sa)
		// The runtime snapshot is read per connection so that a change
		// applies exactly to connections accepted after it.
		rt := s.rt.Load()
		if open := s.open.Load(); open >= int64(rt.MaxConnections) {
			// Kamailio accepts and closes rather than leaving peers hanging in
			// the backlog (spec §1.23, §11.17).
			s.rejMax.Add(1) // before the close, which the peer can observe
			unix.Close(fd)
			s.rlog.Log(slog.LevelError, "tcp_max_connections", "tcp_max_connections reached: connection closed",
				"open", open, "tcp_max_connections", rt.MaxConnections, "remote", remote)
			continue
		}
		if s.tbl.ipFull(remote.Addr(), s.cfg.AcceptIPLimit) {
			// Checked on the socket's peer, before any PROXY header, and
			// before anything is allocated for the connection: a flood from
			// one address costs an accept and a close each.
			s.rejIPLimit.Add(1) // before the close, which the peer can observe
			unix.Close(fd)
			s.rlog.Log(slog.LevelError, "tcp_accept_iplimit", "tcp_accept_iplimit reached: connection closed",
				"remote", remote, "tcp_accept_iplimit", s.cfg.AcceptIPLimit)
			continue
		}
		var local netip.AddrPort
		if lsa, err := unix.Getsockname(fd); err == nil {
			local = addrPort(lsa)
		}
		c := s.newConn(fd, local, remote, false, rt)
		c.e.listener = int16(li)
		if s.cfg.AcceptHAProxy {
			c.proxyWait = true
			c.proxyDead = instantOf(c.e.created.time().Add(proxyWait(rt.WaitData)))
		}
		if !s.tbl.insert(c.e, s.cfg.AcceptUnique) {
			s.rejUnique.Add(1)
			unix.Close(fd)
			s.rlog.Log(slog.LevelError, "tcp_accept_unique", "tcp_accept_unique: duplicate connection closed",
				"remote", remote, "local", local)
			continue
		}
		s.open.Add(1)
		s.hand(c)
	}
}

// pick returns the worker with the fewest connections; ties go round-robin.
func (s *Stack) pick() *worker {
	ws := s.workers
	rr := int(s.rr.Add(1) % uint64(len(ws)))
	best := ws[rr]
	bestN := best.nconns.Load()
	for i := 1; i < len(ws) && bestN > 0; i++ {
		w := ws[(rr+i)%len(ws)]
		if n := w.nconns.Load(); n < bestN {
			best, bestN = w, n
		}
	}
	return best
}

// newConn makes the conn and entry of a new socket.
func (s *Stack) newConn(fd int, local, remote netip.AddrPort, outbound bool, rt *Runtime) *conn {
	now := time.Now()
	c := &conn{
		fd:       fd,
		id:       s.nextID.Add(1),
		outbound: outbound,
		fr:       framer{limit: rt.RdBufSize - 1},
		lifetime: rt.ConnectionLifetime,
		hidx:     -1,
	}
	// The worker is chosen now: once listed, the entry may be written to.
	c.e = &entry{id: c.id, c: c, w: s.pick(), outbound: outbound, listener: -1, peer: remote, created: instantOf(now), local: local, remote: remote, fd: fd}
	return c
}

// hand gives a listed connection to a worker.
func (s *Stack) hand(c *conn) bool {
	w := c.e.w
	w.nconns.Add(1)
	if !w.send(cmd{op: opAdd, c: c}) {
		w.nconns.Add(-1)
		s.tbl.remove(c.e)
		unix.Close(c.fd)
		s.open.Add(-1)
		return false
	}
	return true
}

func closeFD(fd int) { unix.Close(fd) }

// proxyWait is how long a PROXY header may take: tcp_wait_data plus one of
// Kamailio's polling steps, which it always sleeps at least once (spec
// §1.32), so 0 still waits 50 ms.
func proxyWait(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d + 50*time.Millisecond
	case d > 10*time.Second:
		return d + 100*time.Millisecond
	}
	return d + d/100
}
