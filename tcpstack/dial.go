package tcpstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

func normAddr(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// sendListener is the listener hepd sends "from" towards addr: the first
// listener of addr's family (tcp_reuse_port binds to it,
// tcp_connection_match=1 prefers connections on its port).
func (s *Stack) sendListener(addr netip.AddrPort) (listener, bool) {
	for _, l := range s.listeners {
		if l.addr.Addr().Is4() == addr.Addr().Is4() {
			return l, true
		}
	}
	return listener{}, false
}

func (s *Stack) sendPort(addr netip.AddrPort) uint16 {
	if l, ok := s.sendListener(addr); ok {
		return l.addr.Port()
	}
	return 0
}

// Dial returns a connection to addr: a live one when Lookup finds one
// (tcp_connection_match), else a new outbound connection, which a worker
// then owns like an accepted one (its input is framed and delivered, and
// tcp_connection_lifetime applies). A new connection is refused when
// tcp_no_connect is set or tcp_max_connections is reached. The connect waits
// at most tcp_connect_timeout (and ctx); the socket gets the outbound
// options (tcp_syncnt, tcp_delayed_ack, keepalive, tcp_linger2,
// tcp_send_timeout, tcp_reuse_port) and is bound to tcp_source_ipv4/ipv6
// when set. Dial waits for the connect with tcp_async too: hepd's callers
// want to know where their data goes.
func (s *Stack) Dial(ctx context.Context, addr netip.AddrPort) (connID uint64, err error) {
	addr = normAddr(addr)
	if !addr.IsValid() || addr.Port() == 0 {
		return 0, fmt.Errorf("tcpstack: dial %v: not an address and port", addr)
	}
	if id, ok := s.Lookup(addr); ok {
		return id, nil
	}
	rt := s.rt.Load()
	if rt.NoConnect {
		s.dialRefused.Add(1)
		return 0, fmt.Errorf("tcpstack: dial %v: %w", addr, ErrNoConnect)
	}
	if open := s.open.Load(); open >= int64(rt.MaxConnections) {
		s.rejMax.Add(1)
		return 0, fmt.Errorf("tcpstack: dial %v: %w (%d open)", addr, ErrMaxConnections, open)
	}
	fd, local, err := s.connect(ctx, addr, rt)
	if err != nil {
		s.dialErrors.Add(1)
		return 0, fmt.Errorf("tcpstack: dial %v: %w", addr, err)
	}
	c := s.newConn(fd, local, addr, true, rt)
	s.tbl.insert(c.e, false)
	s.open.Add(1)
	if !s.hand(c) {
		return 0, fmt.Errorf("tcpstack: dial %v: %w (shutting down)", addr, ErrClosed)
	}
	return c.id, nil
}

// connect opens, configures, binds and connects an outbound socket.
func (s *Stack) connect(ctx context.Context, addr netip.AddrPort, rt *Runtime) (fd int, local netip.AddrPort, err error) {
	family := unix.AF_INET6
	src := s.cfg.SourceIPv6
	if addr.Addr().Is4() {
		family = unix.AF_INET
		src = s.cfg.SourceIPv4
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, local, fmt.Errorf("socket: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := setInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR", 1); err != nil {
		return -1, local, err
	}
	if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, "TCP_NODELAY", 1); err != nil {
		return -1, local, err
	}
	if rt.ReusePort {
		if err := setInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, "tcp_reuse_port", 1); err != nil {
			return -1, local, err
		}
	}
	if err := optsOf(rt).apply(fd, nil, false); err != nil {
		return -1, local, err
	}
	if rt.DelayedAck {
		// Before connect, so the handshake's last ACK can ride on the
		// first data segment (spec §1.16).
		if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_QUICKACK, "tcp_delayed_ack", 0); err != nil {
			return -1, local, err
		}
	}
	var port uint16
	if rt.ReusePort {
		if l, ok := s.sendListener(addr); ok {
			port = l.addr.Port()
			if !src.IsValid() {
				src = l.addr.Addr()
			}
		}
	}
	if src.IsValid() || port != 0 {
		if !src.IsValid() {
			src = netip.IPv6Unspecified()
			if family == unix.AF_INET {
				src = netip.IPv4Unspecified()
			}
		}
		bind := netip.AddrPortFrom(src, port)
		if err := unix.Bind(fd, sockaddr(bind)); err != nil {
			// Kamailio logs and lets the kernel choose (spec §1.27, §1.30).
			s.rlog.Log(slog.LevelWarn, "dial-bind", "tcp outbound: bind failed, connecting from a kernel-chosen address",
				"bind", bind, "to", addr, "err", err)
		}
	}
	timeout := rt.ConnectTimeout
	deadline := time.Now().Add(timeout)
	if d, has := ctx.Deadline(); has && d.Before(deadline) {
		deadline = d
	}
	err = unix.Connect(fd, sockaddr(addr))
	if err != nil && !errors.Is(err, unix.EINPROGRESS) && !errors.Is(err, unix.EINTR) {
		return -1, local, fmt.Errorf("connect: %w", err)
	}
	if err != nil {
		if err := waitConnected(ctx, fd, deadline, timeout); err != nil {
			return -1, local, err
		}
	}
	if sa, err := unix.Getsockname(fd); err == nil {
		local = addrPort(sa)
	}
	ok = true
	return fd, local, nil
}

// waitConnected waits for a non-blocking connect to finish, by deadline,
// watching ctx as well.
func waitConnected(ctx context.Context, fd int, deadline time.Time, timeout time.Duration) error {
	const step = 50 * time.Millisecond // how often ctx is looked at
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("connect: no answer within tcp_connect_timeout %v: %w", timeout, unix.ETIMEDOUT)
		}
		n, err := unix.Poll(pfd, timeoutMillis(min(left, step)))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("connect: poll: %w", err)
		}
		if n > 0 {
			soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if err != nil {
				return fmt.Errorf("connect: %w", err)
			}
			if soerr != 0 {
				return fmt.Errorf("connect: %w", unix.Errno(soerr))
			}
			return nil
		}
	}
}
