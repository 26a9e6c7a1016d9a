package tcpstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// methods are the implemented tcp_poll_method values; every stack test runs
// over each.
var methods = []string{"epoll_lt", "epoll_et", "poll", "select"}

// collector is a Sink that keeps a copy of every frame. hold makes the next
// Deliver calls block until release.
type collector struct {
	mu      sync.Mutex
	frames  []Frame // Data copied at Deliver time
	changed chan struct{}
	gate    atomic.Pointer[chan struct{}]
	blocked chan struct{} // receives when a Deliver starts blocking
}

func newCollector() *collector {
	return &collector{changed: make(chan struct{}, 1), blocked: make(chan struct{}, 1)}
}

func (c *collector) Deliver(frames []Frame) {
	if g := c.gate.Load(); g != nil {
		select {
		case c.blocked <- struct{}{}:
		default:
		}
		<-*g
	}
	c.mu.Lock()
	for _, f := range frames {
		f.Data = bytes.Clone(f.Data)
		c.frames = append(c.frames, f)
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) hold() func() {
	g := make(chan struct{})
	c.gate.Store(&g)
	return func() { c.gate.Store(nil); close(g) }
}

func (c *collector) snapshot() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// waitFrames waits until at least n frames have been delivered.
func (c *collector) waitFrames(t *testing.T, n int) []Frame {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if fs := c.snapshot(); len(fs) >= n {
			return fs
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("timed out: %d of %d frames delivered", len(c.snapshot()), n)
		}
	}
}

// byConn groups frame data by connection, in delivery order.
func byConn(fs []Frame) map[uint64][][]byte {
	m := make(map[uint64][][]byte)
	for _, f := range fs {
		m[f.ConnID] = append(m[f.ConnID], f.Data)
	}
	return m
}

func testConfig(method string) Config {
	cfg := DefaultConfig()
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	cfg.Children = 2
	cfg.PollMethod = method
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startStack starts a stack on loopback and shuts it down when the test ends.
func startStack(t *testing.T, cfg Config, sink Sink) *Stack {
	t.Helper()
	s, err := New(cfg, sink, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

func dial(t *testing.T, s *Stack) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds or 10 s pass. It is for counters,
// which have no event to wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// expectEOF reads from c until EOF (or a reset), failing on data or timeout.
func expectEOF(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	var b [1]byte
	n, err := c.Read(b[:])
	if n > 0 || err == nil {
		t.Fatalf("read %d bytes, want EOF", n)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read error %v, want EOF", err)
	}
}

func checkFrames(t *testing.T, got [][]byte, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs (len %d vs %d)", i, len(got[i]), len(want[i]))
		}
	}
}

func forMethods(t *testing.T, f func(t *testing.T, method string)) {
	for _, m := range methods {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			f(t, m)
		})
	}
}

func TestStreamDelivery(t *testing.T) {
	stream, frames := readStream(t, kamailioStream)
	tests := []struct {
		name  string
		write func(t *testing.T, s *Stack, c net.Conn)
	}{
		{"65 kamailio frames in one write arrive intact and in order", func(t *testing.T, s *Stack, c net.Conn) {
			write(t, c, stream)
		}},
		{"one byte per write", func(t *testing.T, s *Stack, c net.Conn) {
			for i := range stream {
				write(t, c, stream[i:i+1])
			}
		}},
		{"odd-sized writes cut frames everywhere", func(t *testing.T, s *Stack, c net.Conn) {
			for p, i := stream, 0; len(p) > 0; i++ {
				n := min([]int{7, 1, 13, 5, 301, 2, 3}[i%7], len(p))
				write(t, c, p[:n])
				p = p[n:]
			}
		}},
		{"each frame split at every header offset, each part read separately", func(t *testing.T, s *Stack, c net.Conn) {
			sent := 0
			for i, f := range frames {
				cut := []int{1, 2, 3, 4, 5, 6, 7, len(f) / 2, len(f) - 1}[i%9]
				for _, part := range [][]byte{f[:cut], f[cut:]} {
					write(t, c, part)
					sent += len(part)
					// Wait until the stack has read this part, so the next
					// one is a separate read.
					eventually(t, "stack to read the part", func() bool { return s.Stats().Bytes >= uint64(sent) })
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forMethods(t, func(t *testing.T, m string) {
				col := newCollector()
				s := startStack(t, testConfig(m), col)
				c := dial(t, s)
				tt.write(t, s, c)
				got := col.waitFrames(t, len(frames))
				checkFrames(t, byConn(got)[got[0].ConnID], frames)
				f := got[0]
				if f.Kind != FrameHEP3 || f.Local != s.Addrs()[0] || f.Remote.String() != c.LocalAddr().String() || f.RecvTime.IsZero() {
					t.Fatalf("frame metadata %+v (local %v remote %v)", f, s.Addrs()[0], c.LocalAddr())
				}
				eventually(t, "stats to count every frame and byte", func() bool {
					st := s.Stats()
					return st.Frames == uint64(len(frames)) && st.Bytes == uint64(len(stream))
				})
			})
		})
	}
}

// A small arena makes the worker deliver early and reuse its buffer many
// times per round; frames copied at Deliver time would show any overwrite.
func TestManyConnectionsManyFrames(t *testing.T) {
	stream, frames := readStream(t, kamailioStream)
	const conns, repeats = 20, 4
	payload := bytes.Repeat(stream, repeats)
	for _, arena := range []int{arenaSize, 4096} {
		t.Run(map[int]string{arenaSize: "default arena", 4096: "4 KiB arena forces early deliveries"}[arena], func(t *testing.T) {
			forMethods(t, func(t *testing.T, m string) {
				col := newCollector()
				s, err := New(testConfig(m), col, testLogger(t))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range s.workers {
					w.arena = make([]byte, arena)
					w.minRead = min(w.minRead, arena/2)
				}
				s.Start()
				defer s.Shutdown(context.Background())
				var wg sync.WaitGroup
				for range conns {
					c := dial(t, s)
					wg.Go(func() { c.Write(payload) })
				}
				wg.Wait()
				got := col.waitFrames(t, conns*repeats*len(frames))
				want := make([][]byte, 0, repeats*len(frames))
				for range repeats {
					want = append(want, frames...)
				}
				per := byConn(got)
				if len(per) != conns {
					t.Fatalf("frames from %d connections, want %d", len(per), conns)
				}
				for _, fs := range per {
					checkFrames(t, fs, want)
				}
				// Counters are published after Deliver returns.
				eventually(t, "stats to count every frame", func() bool {
					st := s.Stats()
					return st.Accepted == conns && st.Frames == uint64(conns*repeats*len(frames))
				})
			})
		})
	}
}

func TestBadFrameClosesOnlyItsConnection(t *testing.T) {
	good := hep3(200, 'g')
	tests := []struct {
		name string
		bad  []byte
		kind func(FrameErrorCounts) uint64
	}{
		{"SIP without Content-Length (tcp_accept_no_cl=no)", []byte("OPTIONS sip:x SIP/2.0\r\n\r\n"), func(c FrameErrorCounts) uint64 { return c.NoContentLength }},
		{"HEP3 length 3", append(hep3Header(3), "xyz"...), func(c FrameErrorCounts) uint64 { return c.BadHEP3Length }},
		{"HEP3 length above tcp_rd_buf_size", hep3(2000, 'b'), func(c FrameErrorCounts) uint64 { return c.TooLarge }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forMethods(t, func(t *testing.T, m string) {
				cfg := testConfig(m)
				cfg.RdBufSize = 1024
				col := newCollector()
				s := startStack(t, cfg, col)
				a, b := dial(t, s), dial(t, s)
				write(t, a, good)
				write(t, b, good)
				col.waitFrames(t, 2)
				write(t, b, tt.bad)
				expectEOF(t, b, 5*time.Second)
				write(t, a, good)
				got := col.waitFrames(t, 3)
				if got[2].ConnID != got[0].ConnID && got[2].ConnID != got[1].ConnID {
					t.Fatal("third frame from an unknown connection")
				}
				eventually(t, "error counted", func() bool {
					st := s.Stats()
					return st.ClosedByError == 1 && tt.kind(st.FrameErrors) == 1 && st.Open == 1
				})
			})
		})
	}
}

func TestMaxConnectionsAcceptsThenCloses(t *testing.T) {
	forMethods(t, func(t *testing.T, m string) {
		cfg := testConfig(m)
		cfg.MaxConnections = 2
		col := newCollector()
		s := startStack(t, cfg, col)
		f := hep3(50, 'm')
		a, b := dial(t, s), dial(t, s)
		write(t, a, f)
		write(t, b, f)
		col.waitFrames(t, 2)

		c := dial(t, s) // the handshake completes: the kernel accepts
		expectEOF(t, c, 5*time.Second)
		if st := s.Stats(); st.Rejected != 1 {
			t.Fatalf("rejected %d, want 1", st.Rejected)
		}
		eventually(t, "two connections open", func() bool { return s.Stats().Open == 2 })

		a.Close()
		eventually(t, "slot freed", func() bool { return s.Stats().Open == 1 })
		d := dial(t, s)
		write(t, d, f)
		col.waitFrames(t, 3)
	})
}

func TestConnectionLifetime(t *testing.T) {
	forMethods(t, func(t *testing.T, m string) {
		const lifetime = time.Second
		cfg := testConfig(m)
		cfg.ConnectionLifetime = lifetime
		col := newCollector()
		s := startStack(t, cfg, col)

		eofAt := func(c net.Conn) <-chan time.Time {
			ch := make(chan time.Time, 1)
			go func() {
				var b [1]byte
				c.Read(b[:])
				ch <- time.Now()
			}()
			return ch
		}
		start := time.Now()
		idle, active := dial(t, s), dial(t, s)
		idleEOF, activeEOF := eofAt(idle), eofAt(active)

		f := hep3(40, 'l')
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		var lastSend time.Time
		for sends := 0; sends < 7; sends++ { // activity for about 2 s
			write(t, active, f)
			lastSend = time.Now()
			select {
			case at := <-activeEOF:
				t.Fatalf("active connection closed after %v", at.Sub(start))
			case <-tick.C:
			}
		}
		select {
		case at := <-idleEOF:
			if d := at.Sub(start); d < lifetime || d > lifetime+700*time.Millisecond {
				t.Fatalf("idle connection closed after %v, want within [1s, 1.7s]", d)
			}
		default:
			t.Fatal("idle connection still open after 2 s")
		}
		at := <-activeEOF
		if d := at.Sub(lastSend); d < lifetime-10*time.Millisecond || d > lifetime+700*time.Millisecond {
			t.Fatalf("active connection closed %v after its last frame, want about 1s", d)
		}
		col.waitFrames(t, 7)
		eventually(t, "lifetime closes counted", func() bool { return s.Stats().ClosedByLifetime == 2 })
	})
}

func TestBackpressureWhileDeliverBlocks(t *testing.T) {
	stream, frames := readStream(t, kamailioStream)
	forMethods(t, func(t *testing.T, m string) {
		col := newCollector()
		s := startStack(t, testConfig(m), col)
		c := dial(t, s)
		c.SetWriteBuffer(16 << 10)
		release := col.hold()

		// Write whole streams until a write cannot complete: the stack has
		// stopped reading and TCP flow control pushes back.
		copies := 0
		var rest []byte
		for {
			c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := c.Write(stream)
			copies++
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatal(err)
				}
				rest = stream[n:]
				break
			}
			if copies > 10000 {
				t.Fatal("writes never blocked")
			}
		}
		<-col.blocked
		if n := len(col.snapshot()); n != 0 {
			t.Fatalf("%d frames delivered while Deliver blocked", n)
		}
		release()
		c.SetWriteDeadline(time.Time{})
		write(t, c, rest)
		got := col.waitFrames(t, copies*len(frames))
		if len(got) != copies*len(frames) {
			t.Fatalf("got %d frames, want %d", len(got), copies*len(frames))
		}
		for i, f := range got {
			if !bytes.Equal(f.Data, frames[i%len(frames)]) {
				t.Fatalf("frame %d differs", i)
			}
		}
		eventually(t, "blocked time counted", func() bool { return s.Stats().DeliverBlocked > 0 })
		t.Logf("backpressure after %d streams (%d KiB)", copies, copies*len(stream)>>10)
	})
}

func TestShutdownDeliversDataInFlight(t *testing.T) {
	stream, frames := readStream(t, kamailioStream)
	forMethods(t, func(t *testing.T, m string) {
		cfg := testConfig(m)
		col := newCollector()
		s, err := New(cfg, col, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		const conns = 3
		var cs []net.Conn
		for range conns {
			c := dial(t, s)
			write(t, c, frames[0])
			cs = append(cs, c)
		}
		col.waitFrames(t, conns)

		// Hold the sink so data piles up in the sockets, then shut down
		// while it is still unread.
		release := col.hold()
		for _, c := range cs {
			write(t, c, stream)
			write(t, c, frames[1][:10]) // incomplete: counted, not delivered
		}
		done := make(chan error, 1)
		go func() { done <- s.Shutdown(context.Background()) }()
		<-col.blocked
		release()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got := col.snapshot()
		if len(got) != conns*(1+len(frames)) {
			t.Fatalf("got %d frames, want %d", len(got), conns*(1+len(frames)))
		}
		for _, fs := range byConn(got) {
			checkFrames(t, fs[1:], frames)
		}
		st := s.Stats()
		if st.ClosedByShutdown != conns || st.FrameErrors.Truncated != conns || st.Open != 0 {
			t.Fatalf("stats %+v", st.WorkerStats)
		}
		for _, c := range cs {
			expectEOF(t, c, 5*time.Second)
		}
		if c, err := net.Dial("tcp", s.Addrs()[0].String()); err == nil {
			c.Close()
			t.Fatal("still accepting after Shutdown")
		}
	})
}

func TestShutdownHonoursContext(t *testing.T) {
	col := newCollector()
	s, err := New(testConfig("epoll_lt"), col, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	c := dial(t, s)
	release := col.hold()
	write(t, c, hep3(10, 'c'))
	<-col.blocked
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	release()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRuntimeRdBufSizeAffectsNewConnectionsOnly(t *testing.T) {
	forMethods(t, func(t *testing.T, m string) {
		col := newCollector()
		s := startStack(t, testConfig(m), col)
		big := hep3(2000, 'r')
		old := dial(t, s)
		write(t, old, hep3(10, 'o'))
		col.waitFrames(t, 1) // old is now accepted under rd_buf_size 65536

		r := s.Runtime()
		r.RdBufSize = 1024
		prev, err := s.SetRuntime(r)
		if err != nil || prev.RdBufSize != 65536 {
			t.Fatalf("SetRuntime = %+v, %v", prev, err)
		}
		young := dial(t, s)
		write(t, young, big)
		expectEOF(t, young, 5*time.Second)
		write(t, old, big)
		got := col.waitFrames(t, 2)
		if !bytes.Equal(got[1].Data, big) {
			t.Fatal("old connection's large frame not delivered")
		}
		eventually(t, "too-long counted", func() bool { return s.Stats().FrameErrors.TooLarge == 1 })
	})
}

func TestSetRuntimeRefusesOutOfRange(t *testing.T) {
	s, err := New(testConfig("epoll_lt"), newCollector(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	for _, v := range []int{511, 16<<20 + 1, -1} {
		r := s.Runtime()
		r.RdBufSize = v
		old, err := s.SetRuntime(r)
		if err == nil || !strings.Contains(err.Error(), "rd_buf_size") {
			t.Errorf("rd_buf_size %d: err = %v", v, err)
		}
		if old.RdBufSize != 65536 || s.Runtime().RdBufSize != 65536 {
			t.Errorf("rd_buf_size %d: runtime changed to %+v", v, s.Runtime())
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	taken, err := New(testConfig("epoll_lt"), newCollector(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Shutdown(context.Background())

	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr []string // substrings; none means New must succeed
		check   func(*testing.T, *Stack)
	}{
		{name: "tcp_children 0", mod: func(c *Config) { c.Children = 0 }, wantErr: []string{"tcp_children", "0"}},
		{name: "tcp_children negative", mod: func(c *Config) { c.Children = -3 }, wantErr: []string{"tcp_children", "-3"}},
		{name: "tcp_max_connections negative", mod: func(c *Config) { c.MaxConnections = -1 }, wantErr: []string{"tcp_max_connections", "-1"}},
		{name: "tcp_rd_buf_size negative", mod: func(c *Config) { c.RdBufSize = -5 }, wantErr: []string{"tcp_rd_buf_size", "-5"}},
		{name: "tcp_poll_method unknown", mod: func(c *Config) { c.PollMethod = "foo" }, wantErr: []string{"tcp_poll_method", `"foo"`, "epoll_lt, epoll_et, poll, select"}},
		{name: "tcp_poll_method kqueue", mod: func(c *Config) { c.PollMethod = "kqueue" }, wantErr: []string{"tcp_poll_method: kqueue is not available on linux (available: epoll_lt, epoll_et, poll, select)"}},
		{name: "tcp_poll_method /dev/poll", mod: func(c *Config) { c.PollMethod = "/dev/poll" }, wantErr: []string{"tcp_poll_method: /dev/poll is not available on linux"}},
		{name: "tcp_poll_method sigio_rt", mod: func(c *Config) { c.PollMethod = "sigio_rt" }, wantErr: []string{"tcp_poll_method: sigio_rt", "available"}},
		{name: "no listen address", mod: func(c *Config) { c.Listen = nil }, wantErr: []string{"listen"}},
		{name: "invalid listen address", mod: func(c *Config) { c.Listen = []netip.AddrPort{{}} }, wantErr: []string{"listen", "invalid"}},
		{name: "port in use is a bind error", mod: func(c *Config) { c.Listen = taken.Addrs() }, wantErr: []string{"bind", taken.Addrs()[0].String(), "address already in use"}},
		{name: "tcp_poll_method is case-insensitive", mod: func(c *Config) { c.PollMethod = "EPOLL_ET" }},
		{name: "tcp_poll_method none means epoll_lt", mod: func(c *Config) { c.PollMethod = "none" }},
		{name: "tcp_rd_buf_size below 512 is clamped", mod: func(c *Config) { c.RdBufSize = 100 },
			check: func(t *testing.T, s *Stack) {
				if s.Runtime().RdBufSize != 512 {
					t.Fatalf("rd_buf_size %d, want 512", s.Runtime().RdBufSize)
				}
			}},
		{name: "tcp_rd_buf_size above 16 MiB is clamped", mod: func(c *Config) { c.RdBufSize = 1 << 30 },
			check: func(t *testing.T, s *Stack) {
				if s.Runtime().RdBufSize != 16<<20 {
					t.Fatalf("rd_buf_size %d, want 16 MiB", s.Runtime().RdBufSize)
				}
			}},
		{name: "tcp_max_connections 0 is allowed", mod: func(c *Config) { c.MaxConnections = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("epoll_lt")
			tt.mod(&cfg)
			s, err := New(cfg, newCollector(), nil)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if tt.check != nil {
					tt.check(t, s)
				}
				if err := s.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				s.Shutdown(context.Background())
				t.Fatal("New succeeded")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestChildrenShareConnections(t *testing.T) {
	forMethods(t, func(t *testing.T, m string) {
		cfg := testConfig(m)
		cfg.Children = 3
		col := newCollector()
		s := startStack(t, cfg, col)
		for i := range 9 {
			c := dial(t, s)
			write(t, c, hep3(20, byte(i)))
		}
		col.waitFrames(t, 9)
		eventually(t, "3 connections per worker", func() bool {
			for _, w := range s.Stats().Workers {
				if w.Accepted != 3 || w.Open != 3 || w.Frames != 3 {
					return false
				}
			}
			return true
		})
	})
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	want := Config{
		Listen:             []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:9060")},
		Children:           8,
		RdBufSize:          65536,
		MaxConnections:     2048,
		ConnectionLifetime: 120 * time.Second,
		PollMethod:         "none",
	}
	if c.Children != want.Children || c.RdBufSize != want.RdBufSize || c.MaxConnections != want.MaxConnections ||
		c.ConnectionLifetime != want.ConnectionLifetime || c.PollMethod != want.PollMethod || c.Listen[0] != want.Listen[0] {
		t.Fatalf("DefaultConfig = %+v", c)
	}
}

func TestIPv6LoopbackAddresses(t *testing.T) {
	forMethods(t, func(t *testing.T, m string) {
		cfg := testConfig(m)
		cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("[::1]:0")}
		col := newCollector()
		s, err := New(cfg, col, testLogger(t))
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(context.Background()) })
		c := dial(t, s)
		write(t, c, hep3(30, '6'))
		f := col.waitFrames(t, 1)[0]
		if f.Local != s.Addrs()[0] || !f.Local.Addr().Is6() || f.Remote.String() != c.LocalAddr().String() {
			t.Fatalf("local %v remote %v; want %v and %v", f.Local, f.Remote, s.Addrs()[0], c.LocalAddr())
		}
	})
}

func TestRuntimeLifetimeAffectsNewConnectionsOnly(t *testing.T) {
	forMethods(t, func(t *testing.T, m string) {
		col := newCollector()
		s := startStack(t, testConfig(m), col) // lifetime 120 s
		old := dial(t, s)
		write(t, old, hep3(10, 'o'))
		col.waitFrames(t, 1)
		r := s.Runtime()
		r.ConnectionLifetime = 200 * time.Millisecond
		if _, err := s.SetRuntime(r); err != nil {
			t.Fatal(err)
		}
		young := dial(t, s)
		expectEOF(t, young, 5*time.Second)
		write(t, old, hep3(10, 'p'))
		col.waitFrames(t, 2)
		eventually(t, "one lifetime close", func() bool { return s.Stats().ClosedByLifetime == 1 })
		if s.Stats().Open != 1 {
			t.Fatalf("open %d, want the old connection still open", s.Stats().Open)
		}
	})
}
