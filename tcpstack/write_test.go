package tcpstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dialPeer dials a fresh peer from s and returns the connection id and the
// peer's side.
func dialPeer(t *testing.T, s *Stack, rcvbuf int) (uint64, *net.TCPConn, *peer) {
	t.Helper()
	p := newPeer(t, "127.0.0.1:0", rcvbuf)
	id, err := s.Dial(context.Background(), p.addr())
	if err != nil {
		t.Fatal(err)
	}
	return id, p.accept(t), p
}

// fill writes chunks on id until the stack has queued at least want bytes
// in all, or a Write fails; it returns the bytes accepted and the error.
func fill(t *testing.T, s *Stack, id uint64, chunk, want int) (int, error) {
	t.Helper()
	b := bytes.Repeat([]byte{'q'}, chunk)
	total := 0
	for i := 0; s.Stats().WriteQueueBytes < int64(want); i++ {
		if err := s.Write(id, b); err != nil {
			return total, err
		}
		total += chunk
		if total > 1<<30 {
			t.Fatal("the socket never stopped taking data")
		}
	}
	return total, nil
}

func connByID(s *Stack, id uint64) (ConnInfo, bool) {
	for _, c := range s.Conns() {
		if c.ID == id {
			return c, true
		}
	}
	return ConnInfo{}, false
}

func TestDial(t *testing.T) {
	runParamTests(t, []paramTest{
		{name: "Dial: the peer gets our bytes, its answer is framed and delivered", run: func(t *testing.T, s *Stack, col *collector) {
			id, pc, _ := dialPeer(t, s, 0)
			if err := s.Write(id, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			if got := readN(t, pc, 5); string(got) != "hello" {
				t.Fatalf("peer read %q", got)
			}
			write(t, pc, hep3(30, 'u'))
			if f := col.waitFrames(t, 1)[0]; f.ConnID != id || f.Remote.String() != pc.LocalAddr().String() || f.Listener != -1 {
				t.Fatalf("frame from %d %v listener %d (want -1: outbound)", f.ConnID, f.Remote, f.Listener)
			}
			ci, ok := connByID(s, id)
			if !ok || !ci.Outbound || ci.BytesOut != 5 || ci.BytesIn != 30 || ci.FramesIn != 1 || ci.WritesOut != 1 || ci.State != "open" {
				t.Fatalf("Conns: %+v", ci)
			}
			eventually(t, "dial counted", func() bool { return s.Stats().Dialed == 1 })
		}},
		{name: "Dial reuses a live connection to the same address", run: func(t *testing.T, s *Stack, _ *collector) {
			id, _, p := dialPeer(t, s, 0)
			id2, err := s.Dial(context.Background(), p.addr())
			if err != nil || id2 != id {
				t.Fatalf("second Dial = %d, %v; want %d", id2, err, id)
			}
			if len(p.conns) != 0 {
				t.Fatal("peer saw a second connection")
			}
		}},
		{name: "tcp_no_connect=yes at runtime refuses new connections, reuse still works", run: func(t *testing.T, s *Stack, _ *collector) {
			id, _, p := dialPeer(t, s, 0)
			if _, _, err := s.SetParam("tcp_no_connect", "yes"); err != nil {
				t.Fatal(err)
			}
			other := newPeer(t, "127.0.0.1:0", 0)
			if _, err := s.Dial(context.Background(), other.addr()); !errors.Is(err, ErrNoConnect) {
				t.Fatalf("Dial = %v, want ErrNoConnect", err)
			}
			if id2, err := s.Dial(context.Background(), p.addr()); err != nil || id2 != id {
				t.Fatalf("reuse = %d, %v", id2, err)
			}
			if len(other.conns) != 0 || s.Stats().DialsRefused != 1 {
				t.Fatalf("refused %d", s.Stats().DialsRefused)
			}
		}},
		{name: "tcp_max_connections counts outbound connections", mod: func(c *Config) { c.MaxConnections = 1 },
			run: func(t *testing.T, s *Stack, _ *collector) {
				dialPeer(t, s, 0)
				if _, err := s.Dial(context.Background(), newPeer(t, "127.0.0.1:0", 0).addr()); !errors.Is(err, ErrMaxConnections) {
					t.Fatalf("Dial = %v, want ErrMaxConnections", err)
				}
				c := dial(t, s)
				expectEOF(t, c, 5*time.Second)
			}},
		{name: "tcp_source_ipv4: the peer sees the source address", mod: func(c *Config) { c.SourceIPv4 = netip.MustParseAddr("127.0.0.2") },
			run: func(t *testing.T, s *Stack, _ *collector) {
				_, pc, _ := dialPeer(t, s, 0)
				if got := netip.MustParseAddrPort(pc.RemoteAddr().String()).Addr(); got.String() != "127.0.0.2" {
					t.Fatalf("peer sees %v", got)
				}
			}},
		{name: "tcp_source_ipv4 not on this host: warning, kernel-chosen source", mod: func(c *Config) { c.SourceIPv4 = netip.MustParseAddr("192.0.2.55") },
			run: func(t *testing.T, s *Stack, _ *collector) {
				_, pc, _ := dialPeer(t, s, 0)
				if got := pc.RemoteAddr().String(); !strings.HasPrefix(got, "127.0.0.1:") {
					t.Fatalf("peer sees %v", got)
				}
			}},
		{name: "tcp_reuse_port=yes: outbound connections come from the listening port",
			mod: func(c *Config) { c.ReusePort = true; c.Listen = []netip.AddrPort{freePort()} },
			run: func(t *testing.T, s *Stack, _ *collector) {
				_, pc, _ := dialPeer(t, s, 0)
				if got := netip.MustParseAddrPort(pc.RemoteAddr().String()); got != s.Addrs()[0] {
					t.Fatalf("peer sees %v, want the listener %v", got, s.Addrs()[0])
				}
			}},
		{name: "tcp_reuse_port=no: outbound connections use an ephemeral port", run: func(t *testing.T, s *Stack, _ *collector) {
			_, pc, _ := dialPeer(t, s, 0)
			if got := netip.MustParseAddrPort(pc.RemoteAddr().String()); got.Port() == s.Addrs()[0].Port() {
				t.Fatalf("peer sees the listening port %v", got)
			}
		}},
		{name: "outbound socket options: tcp_syncnt, keepalive, tcp_linger2, tcp_send_timeout, tcp_delayed_ack",
			mod: func(c *Config) {
				c.SynCnt = 2
				c.KeepIdle = 33
				c.KeepIntvl = 5
				c.KeepCnt = 6
				c.Linger2 = 9
				c.SendTimeout = 2 * time.Second
			},
			run: func(t *testing.T, s *Stack, _ *collector) {
				_, pc, _ := dialPeer(t, s, 0)
				fd := findSocket(t, netip.MustParseAddrPort(pc.RemoteAddr().String()), netip.MustParseAddrPort(pc.LocalAddr().String()))
				tcp := unix.IPPROTO_TCP
				for _, o := range []struct {
					name             string
					level, opt, want int
				}{{"TCP_SYNCNT", tcp, unix.TCP_SYNCNT, 2}, {"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
					{"TCP_KEEPIDLE", tcp, unix.TCP_KEEPIDLE, 33}, {"TCP_KEEPINTVL", tcp, unix.TCP_KEEPINTVL, 5},
					{"TCP_KEEPCNT", tcp, unix.TCP_KEEPCNT, 6}, {"TCP_LINGER2", tcp, unix.TCP_LINGER2, 9},
					{"TCP_USER_TIMEOUT", tcp, unix.TCP_USER_TIMEOUT, 2000}, {"SO_REUSEADDR", unix.SOL_SOCKET, unix.SO_REUSEADDR, 1},
					{"TCP_NODELAY", tcp, unix.TCP_NODELAY, 1}} {
					if got := getOpt(t, fd, o.level, o.opt); got != o.want {
						t.Errorf("outbound %s = %d, want %d", o.name, got, o.want)
					}
				}
			}},
		// TCP_QUICKACK is not sticky (the handshake leaves delayed-ACK mode
		// again), so the option is observed by its effect: the last ACK of the
		// handshake waits for data or the delayed-ACK timer (200 ms), and the
		// peer's accept waits for that ACK.
		{name: "tcp_delayed_ack=yes: the handshake's last ACK is delayed until data", run: func(t *testing.T, s *Stack, _ *collector) {
			p := newPeer(t, "127.0.0.1:0", 0)
			start := time.Now()
			if _, err := s.Dial(context.Background(), p.addr()); err != nil {
				t.Fatal(err)
			}
			p.accept(t)
			if d := time.Since(start); d < 190*time.Millisecond {
				t.Fatalf("peer accepted %v after the connect began, want the delayed ACK (200ms)", d)
			}
		}},
		{name: "tcp_delayed_ack=no: the handshake completes at once", mod: func(c *Config) { c.DelayedAck = false },
			run: func(t *testing.T, s *Stack, _ *collector) {
				p := newPeer(t, "127.0.0.1:0", 0)
				start := time.Now()
				if _, err := s.Dial(context.Background(), p.addr()); err != nil {
					t.Fatal(err)
				}
				p.accept(t)
				if d := time.Since(start); d >= 190*time.Millisecond {
					t.Fatalf("peer accepted %v after the connect", d)
				}
			}},
		{name: "tcp_delayed_ack=yes: data sent at once carries the ACK", run: func(t *testing.T, s *Stack, _ *collector) {
			p := newPeer(t, "127.0.0.1:0", 0)
			id, err := s.Dial(context.Background(), p.addr())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := s.Write(id, []byte("x")); err != nil {
				t.Fatal(err)
			}
			readN(t, p.accept(t), 1)
			if d := time.Since(start); d >= 190*time.Millisecond {
				t.Fatalf("peer got the first byte %v after the write", d)
			}
		}},
		{name: "tcp_connect_timeout: a connect that gets no answer fails after the timeout",
			mod: func(c *Config) { c.ConnectTimeout = 300 * time.Millisecond },
			run: func(t *testing.T, s *Stack, _ *collector) {
				addr := blackHole(t)
				start := time.Now()
				_, err := s.Dial(context.Background(), addr)
				d := time.Since(start)
				if err == nil || !strings.Contains(err.Error(), "tcp_connect_timeout") {
					t.Fatalf("Dial = %v", err)
				}
				if d < 300*time.Millisecond || d > 2*time.Second {
					t.Fatalf("Dial failed after %v, want about 300ms", d)
				}
				if s.Stats().DialErrors != 1 {
					t.Fatal("dial error not counted")
				}
			}},
		{name: "tcp_connection_lifetime: a send re-arms the lifetime with the value configured now",
			mod: func(c *Config) { c.ConnectionLifetime = 500 * time.Millisecond },
			run: func(t *testing.T, s *Stack, _ *collector) {
				id, pc, _ := dialPeer(t, s, 0)
				r := s.Runtime()
				r.ConnectionLifetime = 1500 * time.Millisecond
				if _, err := s.SetRuntime(r); err != nil {
					t.Fatal(err)
				}
				if err := s.Write(id, []byte("k")); err != nil {
					t.Fatal(err)
				}
				sent := time.Now()
				readN(t, pc, 1)
				drainToEOF(t, pc, 10*time.Second)
				if d := time.Since(sent); d < 1400*time.Millisecond || d > 5*time.Second {
					t.Fatalf("closed %v after the send, want about the new 1.5s", d)
				}
			}},
		{name: "tcp_connection_lifetime: sends keep an outbound connection alive, idleness closes it",
			mod: func(c *Config) { c.ConnectionLifetime = time.Second },
			run: func(t *testing.T, s *Stack, _ *collector) {
				id, pc, _ := dialPeer(t, s, 0)
				start := time.Now()
				var last time.Time
				for time.Since(start) < 2500*time.Millisecond {
					if err := s.Write(id, []byte("k")); err != nil {
						t.Fatalf("write after %v: %v", time.Since(start), err)
					}
					last = time.Now()
					readN(t, pc, 1)
					time.Sleep(100 * time.Millisecond) // the sender's pace, not a synchronisation
				}
				drainToEOF(t, pc, 5*time.Second)
				if d := time.Since(last); d < 950*time.Millisecond || d > 4*time.Second {
					t.Fatalf("closed %v after the last send, want about 1s", d)
				}
			}},
	})
}

// blackHole returns an address whose SYNs go unanswered: a listener whose
// accept queue (backlog 0) is already full.
func blackHole(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := addrPort(sa)
	// Fill the queue: connects that complete without anyone accepting.
	for i := 0; i < 8; i++ {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := d.Dial("tcp", addr.String())
		if err != nil {
			return addr // the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("could not fill the accept queue")
	return addr
}

func TestWriteQueue(t *testing.T) {
	runParamTests(t, []paramTest{
		{name: "tcp_conn_wq_max: a write that overflows the queue fails and closes the connection",
			mod: func(c *Config) { c.ConnWQMax = 64 << 10 },
			run: func(t *testing.T, s *Stack, _ *collector) {
				id, pc, _ := dialPeer(t, s, 4096)
				sent, err := fill(t, s, id, 16<<10, 1<<30)
				if !errors.Is(err, ErrQueueFull) || !strings.Contains(err.Error(), "tcp_conn_wq_max") {
					t.Fatalf("Write = %v, want a tcp_conn_wq_max ErrQueueFull", err)
				}
				if err := s.Write(id, []byte("x")); !errors.Is(err, ErrClosed) {
					t.Fatalf("Write after the close = %v", err)
				}
				got := drainToEOF(t, pc, 10*time.Second)
				if got >= sent {
					t.Fatalf("peer got %d of %d bytes: the queued ones should be lost", got, sent)
				}
				eventually(t, "close counted", func() bool {
					st := s.Stats()
					return st.ClosedByQueue == 1 && st.WriteQueueBytes == 0 && st.WriteQueueBlocks == 0
				})
			}},
		{name: "tcp_wq_max: the connection whose write exceeds the global cap is closed, others stay",
			mod: func(c *Config) { c.WQMax = 100 << 10; c.ConnWQMax = 1 << 20 },
			run: func(t *testing.T, s *Stack, _ *collector) {
				a, _, _ := dialPeer(t, s, 4096)
				b, _, _ := dialPeer(t, s, 4096)
				if _, err := fill(t, s, a, 8<<10, 60<<10); err != nil {
					t.Fatal(err)
				}
				_, err := fill(t, s, b, 8<<10, 1<<30)
				if !errors.Is(err, ErrQueueFull) || !strings.Contains(err.Error(), "tcp_wq_max") {
					t.Fatalf("Write = %v, want a tcp_wq_max ErrQueueFull", err)
				}
				ci, ok := connByID(s, a)
				if !ok || ci.WriteQueue < 60<<10 || ci.State != "writing" {
					t.Fatalf("first connection: %+v %v", ci, ok)
				}
				if _, ok := connByID(s, b); ok {
					t.Fatal("second connection still open")
				}
			}},
		{name: "tcp_wq_blk_size: queues grow in blocks of that size",
			mod: func(c *Config) { c.WQBlkSize = 1000 },
			run: func(t *testing.T, s *Stack, _ *collector) {
				id, _, _ := dialPeer(t, s, 4096)
				if _, err := fill(t, s, id, 100, 5000); err != nil {
					t.Fatal(err)
				}
				st := s.Stats()
				if want := (st.WriteQueueBytes + 999) / 1000; st.WriteQueueBlocks != want {
					t.Fatalf("%d bytes in %d blocks, want %d blocks of 1000", st.WriteQueueBytes, st.WriteQueueBlocks, want)
				}
				if ci, _ := connByID(s, id); int64(ci.WriteQueue) != st.WriteQueueBytes {
					t.Fatalf("Conns says %d queued, Stats %d", ci.WriteQueue, st.WriteQueueBytes)
				}
			}},
		{name: "tcp_send_timeout: a queue without progress closes the connection",
			mod: func(c *Config) { c.SendTimeout = time.Second },
			run: func(t *testing.T, s *Stack, _ *collector) {
				id, pc, _ := dialPeer(t, s, 4096)
				start := time.Now() // neither deadline can start earlier
				if _, err := fill(t, s, id, 4<<10, 1); err != nil {
					t.Fatal(err)
				}
				eventually(t, "connection closed", func() bool { _, ok := connByID(s, id); return !ok })
				if d := time.Since(start); d < 900*time.Millisecond || d > 4*time.Second {
					t.Fatalf("closed after %v, want about 1s", d)
				}
				st := s.Stats()
				// The user-space deadline, or the kernel's TCP_USER_TIMEOUT set
				// from the same parameter: both are tcp_send_timeout.
				if st.ClosedBySendTimeout+st.ClosedByError != 1 {
					t.Fatalf("closes %+v", st.WorkerStats)
				}
				drainToEOF(t, pc, 10*time.Second)
			}},
		{name: "tcp_async=no: Write blocks until written", mod: func(c *Config) { c.Async = false },
			run: func(t *testing.T, s *Stack, _ *collector) {
				id, pc, _ := dialPeer(t, s, 4096)
				big := bytes.Repeat([]byte{'z'}, 8<<20)
				done := make(chan error, 1)
				go func() { done <- s.Write(id, big) }()
				if got := readN(t, pc, len(big)); !bytes.Equal(got, big) {
					t.Fatal("peer got other bytes")
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}},
		{name: "tcp_async=no: Write fails after tcp_send_timeout (tcp_fd_cache=yes)",
			mod: func(c *Config) { c.Async = false; c.SendTimeout = 500 * time.Millisecond },
			run: blockingTimeout},
		{name: "tcp_async=no: Write fails after tcp_send_timeout (tcp_fd_cache=no)",
			mod: func(c *Config) { c.Async = false; c.FDCache = false; c.SendTimeout = 500 * time.Millisecond },
			run: blockingTimeout},
		{name: "tcp_fd_cache=no: writes from many goroutines reach the peer whole and in order per writer",
			mod: func(c *Config) { c.FDCache = false },
			run: func(t *testing.T, s *Stack, _ *collector) {
				id, pc, _ := dialPeer(t, s, 0)
				var wg sync.WaitGroup
				const writers, each = 4, 200
				for g := range writers {
					wg.Go(func() {
						for i := range each {
							if err := s.Write(id, fmt.Appendf(nil, "%d:%04d\n", g, i)); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
				got := readN(t, pc, writers*each*7)
				wg.Wait()
				next := make([]int, writers)
				for _, line := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
					var g, i int
					if _, err := fmt.Sscanf(line, "%d:%d", &g, &i); err != nil || i != next[g] {
						t.Fatalf("line %q out of order (want %d:%04d)", line, g, next[g])
					}
					next[g]++
				}
			}},
		{name: "pongs go through the write queue: a pinger that never reads is closed at tcp_conn_wq_max",
			mod: func(c *Config) { c.ConnWQMax = 4096 },
			run: func(t *testing.T, s *Stack, _ *collector) {
				d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
					rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
					return nil
				}}
				c, err := d.Dial("tcp", s.Addrs()[0].String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// A small send buffer on the stack's socket (set from outside,
				// as any tool could) makes it queue after a few KiB of pongs.
				if err := unix.SetsockoptInt(acceptedSocket(t, c), unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
					t.Fatal(err)
				}
				pings := bytes.Repeat(ping, 1<<16) // 256 KiB of pings, 128 KiB of pongs
				go func() {
					// Until the stack closes: the kernel buffers take megabytes of
					// pongs before the stack has to queue.
					for {
						if _, err := c.Write(pings); err != nil {
							return
						}
					}
				}()
				eventually(t, "closed by the queue limit", func() bool { return s.Stats().ClosedByQueue == 1 })
			}},
	})
}

func blockingTimeout(t *testing.T, s *Stack, _ *collector) {
	id, _, _ := dialPeer(t, s, 4096)
	big := bytes.Repeat([]byte{'z'}, 6<<20) // more than the kernel buffers take (tcp_wmem max 4 MiB)
	start := time.Now()
	err := s.Write(id, big)
	if !errors.Is(err, ErrSendTimeout) {
		t.Fatalf("Write = %v, want ErrSendTimeout", err)
	}
	// The upper bound only says "not never": copying megabytes under the race
	// detector on a loaded CI machine takes seconds.
	if d := time.Since(start); d < 450*time.Millisecond || d > 10*time.Second {
		t.Fatalf("Write returned after %v, want about 500ms", d)
	}
	eventually(t, "closed", func() bool { _, ok := connByID(s, id); return !ok })
}
