package tcpstack

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// countSink discards frames, counting them, and closes done at target.
type countSink struct {
	n      atomic.Int64
	target int64
	done   chan struct{}
}

func (s *countSink) Deliver(frames []Frame) {
	n := s.n.Add(int64(len(frames)))
	if prev := n - int64(len(frames)); prev < s.target && n >= s.target {
		close(s.done)
	}
}

// BenchmarkStackFrames measures frames per second through the stack alone:
// loopback connections write the Kamailio stream back to back, and the sink
// discards the frames. One op is one frame; allocs/op covers the stack's hot
// path (the writers allocate nothing per write).
func BenchmarkStackFrames(b *testing.B) {
	stream, frames := readStream(b, kamailioStream)
	benchThroughput(b, stream, len(frames), 32)
}

// benchThroughput runs the stack under every poll method with four loopback
// connections, each writing unit (which holds perUnit frames) back to back,
// unitsPerWrite at a time, until the sink has counted at least b.N frames.
func benchThroughput(b *testing.B, unit []byte, perUnit, unitsPerWrite int) {
	const conns = 4
	chunk := bytes.Repeat(unit, unitsPerWrite)
	for _, m := range methods {
		b.Run(m, func(b *testing.B) {
			// Whole units per connection, at least b.N frames in all.
			units := (b.N + conns*perUnit - 1) / (conns * perUnit)
			sink := &countSink{target: int64(units * conns * perUnit), done: make(chan struct{})}
			s, err := New(testConfig(m), sink, nil)
			if err != nil {
				b.Fatal(err)
			}
			s.Start()
			defer s.Shutdown(context.Background())
			cs := make([]net.Conn, conns)
			for i := range cs {
				c, err := net.Dial("tcp", s.Addrs()[0].String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				cs[i] = c
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(unit) / perUnit))
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Go(func() {
					for left := units; left > 0; left -= unitsPerWrite {
						c.Write(chunk[:min(left, unitsPerWrite)*len(unit)])
					}
				})
			}
			<-sink.done
			b.StopTimer()
			wg.Wait()
			b.ReportMetric(float64(sink.n.Load())/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// TestHotPathDoesNotAllocate reads, frames and delivers a steady stream on
// a warmed-up worker and requires zero allocations per round.
func TestHotPathDoesNotAllocate(t *testing.T) {
	stream, frames := readStream(t, kamailioStream)
	for _, m := range methods {
		t.Run(m, func(t *testing.T) {
			sink := &countSink{target: -1}
			cfg := testConfig(m)
			cfg.Children = 1
			s, err := New(cfg, sink, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.Start()
			c, err := net.Dial("tcp", s.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Warm up: the batch slice, buffers and first-frame state grow.
			for range 20 {
				c.Write(stream)
			}
			want := int64(20 * len(frames))
			eventually(t, "warm-up frames", func() bool { return sink.n.Load() >= want })
			// Measure the stack's worker through the whole process's
			// allocation count while only it works.
			allocs := testing.AllocsPerRun(50, func() {
				want += int64(len(frames))
				c.Write(stream)
				for sink.n.Load() < want {
					runtime.Gosched()
				}
			})
			s.Shutdown(context.Background())
			if allocs > 0 {
				t.Fatalf("%v allocations per 65-frame stream", allocs)
			}
		})
	}
}

// BenchmarkAccept measures the accept path per poll method: one op is a
// connect, a CRLFCRLF ping answered by the stack, and a close, from 8
// client goroutines.
func BenchmarkAccept(b *testing.B) {
	for _, m := range methods {
		b.Run(m, func(b *testing.B) {
			cfg := testConfig(m)
			cfg.Children = 2
			s, err := New(cfg, &countSink{target: -1}, nil)
			if err != nil {
				b.Fatal(err)
			}
			s.Start()
			defer s.Shutdown(context.Background())
			addr := s.Addrs()[0].String()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var pong [2]byte
				for pb.Next() {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Error(err)
						return
					}
					c.Write([]byte("\r\n\r\n"))
					if _, err := io.ReadFull(c, pong[:]); err != nil {
						b.Error(err)
					}
					c.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "accepts/s")
		})
	}
}

// BenchmarkStackSIPFrames is BenchmarkStackFrames for raw SIP over TCP:
// messages framed by Content-Length.
func BenchmarkStackSIPFrames(b *testing.B) {
	msg := []byte("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n" +
		"Max-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@10.0.0.1>\r\n" +
		"Content-Type: application/sdp\r\nContent-Length: 142\r\n\r\n" + strings.Repeat("v", 142))
	benchThroughput(b, msg, 1, 256)
}

// BenchmarkIdleConnections reports the Go heap an idle connection holds
// (after a GC, so live memory only): no goroutine and no read buffer per
// connection, only its state in the worker and the connection table. Peers
// are raw sockets, which hold no Go memory of their own.
func BenchmarkIdleConnections(b *testing.B) {
	const n = 5000
	cfg := DefaultConfig()
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}
	cfg.MaxConnections = 2 * n
	cfg.AcceptIPLimit = 0 // every peer is 127.0.0.1
	cfg.Children = 2
	s, err := New(cfg, &countSink{done: make(chan struct{})}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.Start()
	defer s.Shutdown(context.Background())
	addr := s.Addrs()[0]
	sa := &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	var perConn float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fds := make([]int, 0, n)
		for range n {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				err = unix.Connect(fd, sa)
			}
			if err != nil {
				b.Fatal(err)
			}
			fds = append(fds, fd)
		}
		for s.Stats().Open < n {
			runtime.Gosched()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		// The first round grows the tables; later rounds reuse them, so the
		// largest figure is the honest one.
		perConn = max(perConn, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)-int64(8*n))/n) // less the fds slice
		for _, fd := range fds {
			unix.Close(fd)
		}
		for s.Stats().Open > 0 {
			runtime.Gosched()
		}
	}
	b.ReportMetric(perConn, "heap-bytes/idle-conn")
}
