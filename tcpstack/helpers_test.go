package tcpstack

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// findSocket finds, among this process's descriptors, the socket bound to
// local and connected to remote: the stack's own socket for a connection a
// test made, observed the way any process could (no stack internals). It
// waits for the acceptor when the connection is still in the backlog.
func findSocket(t *testing.T, local, remote netip.AddrPort) int {
	t.Helper()
	var found int
	eventually(t, "socket "+local.String()+"→"+remote.String(), func() bool {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range ents {
			fd, err := strconv.Atoi(de.Name())
			if err != nil {
				continue
			}
			sa, err := unix.Getsockname(fd)
			if err != nil || addrPort(sa) != local {
				continue
			}
			pa, err := unix.Getpeername(fd)
			if remote.IsValid() && (err != nil || addrPort(pa) != remote) {
				continue
			}
			if !remote.IsValid() && err == nil {
				continue // want a listener
			}
			found = fd
			return true
		}
		return false
	})
	return found
}

// acceptedSocket is the stack's socket for client connection c.
func acceptedSocket(t *testing.T, c net.Conn) int {
	t.Helper()
	return findSocket(t, netip.MustParseAddrPort(c.RemoteAddr().String()), netip.MustParseAddrPort(c.LocalAddr().String()))
}

func getOpt(t *testing.T, fd, level, opt int) int {
	t.Helper()
	v, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		t.Fatalf("getsockopt(%d, %d): %v", level, opt, err)
	}
	return v
}

// peer is a plain listener standing for an upstream collector; it records
// the connections it accepts and never reads from them unless told.
type peer struct {
	ln    *net.TCPListener
	conns chan *net.TCPConn
}

// newPeer listens on addr ("127.0.0.1:0"); rcvbuf > 0 makes accepted
// sockets' receive buffers small, so a peer that stops reading makes the
// stack queue soon.
func newPeer(t *testing.T, addr string, rcvbuf int) *peer {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) {
			if rcvbuf > 0 {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
			}
		})
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{ln: l.(*net.TCPListener), conns: make(chan *net.TCPConn, 64)}
	go func() {
		for {
			c, err := p.ln.AcceptTCP()
			if err != nil {
				close(p.conns)
				return
			}
			t.Cleanup(func() { c.Close() })
			p.conns <- c
		}
	}()
	t.Cleanup(func() { p.ln.Close() })
	return p
}

func (p *peer) addr() netip.AddrPort { return netip.MustParseAddrPort(p.ln.Addr().String()) }

func (p *peer) accept(t *testing.T) *net.TCPConn {
	t.Helper()
	select {
	case c := <-p.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("peer accepted nothing")
	}
	return nil
}

// readN reads exactly n bytes from c.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// expectPong reads the CRLF answer to a ping.
func expectPong(t *testing.T, c net.Conn) {
	t.Helper()
	if b := readN(t, c, 2); !bytes.Equal(b, crlf) {
		t.Fatalf("got %q, want CRLF pong", b)
	}
}

// expectSilence checks that nothing is readable from c now. It is used
// after an event that would have followed the bytes (a frame delivered
// after the ping it would have answered), so the short wait is a margin,
// not the synchronisation.
func expectSilence(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var b [1]byte
	if n, err := c.Read(b[:]); n > 0 || !os.IsTimeout(err) {
		t.Fatalf("read %d bytes (%v), want nothing", n, err)
	}
	c.SetReadDeadline(time.Time{})
}

// drainToEOF reads c until EOF or reset, returning the bytes read.
func drainToEOF(t *testing.T, c net.Conn, within time.Duration) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	n, err := io.Copy(io.Discard, c)
	if err != nil && !isReset(err) {
		t.Fatalf("after %d bytes: %v, want EOF", n, err)
	}
	return int(n)
}

func isReset(err error) bool {
	return err != nil && (bytes.Contains([]byte(err.Error()), []byte("reset")))
}

// checkedSink is a CheckedSink that fails every frame containing "BAD".
type checkedSink struct {
	*collector
}

func (c checkedSink) DeliverChecked(frames []Frame, failed []int) []int {
	for i, f := range frames {
		if bytes.Contains(f.Data, []byte("BAD")) {
			failed = append(failed, i)
		}
	}
	c.collector.Deliver(frames)
	return failed
}

// keepSink keeps the frames' Data as handed over, without copying.
type keepSink struct {
	mu     sync.Mutex
	frames [][]byte
	got    chan struct{}
}

func (k *keepSink) Deliver(frames []Frame) {
	k.mu.Lock()
	for _, f := range frames {
		k.frames = append(k.frames, f.Data)
	}
	k.mu.Unlock()
	k.got <- struct{}{}
}

// sipReq is a SIP request with a body, from via.
func sipReq(via string) []byte {
	return []byte("OPTIONS sip:hepd@example.com SIP/2.0\r\nVia: " + via + "\r\nContent-Length: 2\r\n\r\nok")
}
