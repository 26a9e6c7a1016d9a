package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// UDPOptions configure a UDP source.
type UDPOptions struct {
	// ReadBuffer sets SO_RCVBUF in bytes; 0 keeps the kernel default
	// (raise net.core.rmem_max for values above it).
	ReadBuffer int
	// Batch is how many datagrams one recvmmsg call may return.
	Batch int
	// Drain is how long Run keeps reading what is already queued after its
	// context ends.
	Drain time.Duration
	// Listener is what the pipeline requires of datagrams received here
	// (an auth key); nil requires nothing.
	Listener *Listener
	// Readers is how many goroutines read the socket at once. The kernel
	// hands each recvmmsg call its own datagrams; while one reader decodes
	// and stores its batch, another is already reading. 0 means 1.
	Readers int
}

// UDPSource reads datagrams from one UDP socket in batches (recvmmsg) and
// feeds them to a Pipeline: one datagram, one packet. A datagram that is not
// HEP (HEP3, EEP1, legacy v1/v2) is taken as raw SIP, so SIP mirrored to the
// HEP port is captured too.
type UDPSource struct {
	p     *Pipeline
	conn  *net.UDPConn
	pc    *ipv4.PacketConn // ReadBatch works for IPv6 sockets too on Linux
	local netip.AddrPort
	opts  UDPOptions
	log   *slog.Logger

	datagrams, readErrors atomic.Uint64

	// The kernel's drop counter as read when Run closed the socket, so the
	// figure stays readable after shutdown.
	closed     atomic.Bool
	finalDrops uint64
	finalErr   error
}

// ListenUDP binds addr and returns a source that is not reading yet.
func ListenUDP(addr netip.AddrPort, o UDPOptions, p *Pipeline, log *slog.Logger) (*UDPSource, error) {
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.Drain <= 0 {
		o.Drain = 200 * time.Millisecond
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("udp listen %s: %w", addr, err)
	}
	if o.ReadBuffer > 0 {
		if err := setReadBuffer(conn, o.ReadBuffer); err != nil {
			conn.Close()
			return nil, fmt.Errorf("udp_rcvbuf: %w", err)
		}
	}
	return &UDPSource{
		p:     p,
		conn:  conn,
		pc:    ipv4.NewPacketConn(conn),
		local: conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		opts:  o,
		log:   log,
	}, nil
}

// Addr is the bound address.
func (u *UDPSource) Addr() netip.AddrPort { return u.local }

// Datagrams is the number of datagrams read so far.
func (u *UDPSource) Datagrams() uint64 { return u.datagrams.Load() }

// Run reads until ctx ends, then reads for up to Drain what the socket has
// already queued, hands it on, closes the socket and returns.
func (u *UDPSource) Run(ctx context.Context) error {
	defer u.close()
	// The one deadline ever set on the socket: readers keep reading until
	// it passes. (Setting "now" first and the drain end after, from two
	// goroutines, could land in the wrong order and leave the readers
	// spinning on an expired deadline without reading.)
	stop := context.AfterFunc(ctx, func() { u.conn.SetReadDeadline(time.Now().Add(u.opts.Drain)) })
	defer stop()
	var wg sync.WaitGroup
	for range max(u.opts.Readers, 1) {
		wg.Go(func() { u.readLoop(ctx) })
	}
	wg.Wait()
	return nil
}

func (u *UDPSource) readLoop(ctx context.Context) {
	msgs := make([]ipv4.Message, u.opts.Batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 65536)}
	}
	for {
		n, err := u.pc.ReadBatch(msgs, 0)
		if n > 0 {
			u.handle(msgs[:n])
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, net.ErrClosed):
			return
		default:
			u.readErrors.Add(1)
			u.p.rl.Log(slog.LevelError, "udp-read", "udp read failed", "addr", u.local, "err", err)
			if ctx.Err() != nil {
				return
			}
		}
	}
}

func (u *UDPSource) handle(msgs []ipv4.Message) {
	b := u.p.get()
	defer u.p.put(b)
	now := time.Now()
	u.datagrams.Add(uint64(len(msgs)))
	for i := range msgs {
		m := &msgs[i]
		src := Source{Transport: UDP, Local: u.local, RecvTime: now, Listener: u.opts.Listener}
		if a, ok := m.Addr.(*net.UDPAddr); ok {
			src.Remote = a.AddrPort()
		}
		data := m.Buffers[0][:m.N]
		switch {
		case isHEP(data):
			u.p.handleHEP(b, data, &src)
		case isKeepAlive(data):
			u.p.stats.keepAlives.Add(1) // SIP's CRLF keep-alive (RFC 5626 §4.4.1 over UDP)
		default:
			u.p.handleRawSIP(b, data, &src)
		}
	}
	u.p.flushUnpausable(b)
}

// Close closes the socket of a source that will not Run.
func (u *UDPSource) Close() error { return u.close() }

func (u *UDPSource) close() error {
	if u.closed.Load() {
		return nil
	}
	u.finalDrops, u.finalErr = u.readDrops()
	u.closed.Store(true)
	return u.conn.Close()
}

// SocketDrops is the number of datagrams the kernel dropped at this socket
// since it was opened, mostly because its receive buffer (udp_rcvbuf) was
// full while hepd was not reading fast enough. It is the kernel's own
// counter (the drops column of /proc/net/udp), read at each call; after the
// socket is closed, the value read when it was. An error says why the
// kernel's figure is not available.
func (u *UDPSource) SocketDrops() (uint64, error) {
	if u.closed.Load() {
		return u.finalDrops, u.finalErr
	}
	n, err := u.readDrops()
	if err != nil && u.closed.Load() { // closed meanwhile
		return u.finalDrops, u.finalErr
	}
	return n, err
}

func (u *UDPSource) readDrops() (uint64, error) {
	raw, err := u.conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n uint64
	var dropErr error
	if err := raw.Control(func(fd uintptr) { n, dropErr = socketDrops(int(fd)) }); err != nil {
		return 0, err
	}
	return n, dropErr
}

// setReadBuffer sets SO_RCVBUF to n bytes and checks that the kernel did not
// cap it at net.core.rmem_max: a receive buffer smaller than asked for would
// drop bursts silently. With CAP_NET_ADMIN, SO_RCVBUFFORCE passes the cap.
func setReadBuffer(conn *net.UDPConn, n int) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var got int
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		// Linux doubles the value for bookkeeping and reports the doubled size.
		if sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n); sockErr != nil {
			return
		}
		if got, sockErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF); sockErr != nil || got >= 2*n {
			return
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) == nil {
			got, sockErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}
	})
	if err == nil {
		err = sockErr
	}
	if err != nil {
		return fmt.Errorf("SO_RCVBUF %d: %w", n, err)
	}
	if got < 2*n {
		return fmt.Errorf("the kernel capped the UDP receive buffer at %d bytes instead of %d: raise net.core.rmem_max (sysctl -w net.core.rmem_max=%d) or run hepd with CAP_NET_ADMIN", got/2, n, n)
	}
	return nil
}

// isHEP tells HEP from SIP by the first bytes: HEP3/EEP1 magic or the
// legacy version byte (no SIP message starts with a control byte).
func isHEP(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if b[0] == 1 || b[0] == 2 {
		return true
	}
	return len(b) >= 4 && (string(b[:4]) == "HEP3" || string(b[:4]) == "EEP1")
}

// isKeepAlive reports a datagram of nothing but CR, LF and spaces.
func isKeepAlive(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' && c != ' ' && c != 0 {
			return false
		}
	}
	return true
}
