package ingest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hepd/hepd/internal/testvec"
	"github.com/hepd/hepd/tcpstack"
)

// udpTestOptions drain for a second: the tests send, cancel and then Run,
// and on a loaded machine loopback datagrams can reach the socket that
// late (they are delivered by a softirq, not within the sender's write).
var udpTestOptions = UDPOptions{Drain: time.Second}

// sendUDP opens a UDP source for p with o and sends each datagram to it
// from one socket, without reading. It returns the source and the sending
// socket's address.
func sendUDP(t *testing.T, p *Pipeline, o UDPOptions, datagrams ...[]byte) (*UDPSource, *net.UDPAddr) {
	t.Helper()
	src, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), o, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", src.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range datagrams {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	return src, c.LocalAddr().(*net.UDPAddr)
}

// drainUDP is sendUDP, then runs the source with its context already
// ended: it reads what is queued and returns.
func drainUDP(t *testing.T, p *Pipeline, o UDPOptions, datagrams ...[]byte) (*UDPSource, *net.UDPAddr) {
	t.Helper()
	src, from := sendUDP(t, p, o, datagrams...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := src.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return src, from
}

// syncCapture is a capture safe for the UDP reader goroutine.
type syncCapture struct {
	mu sync.Mutex
	capture
}

func (c *syncCapture) Write(ctx context.Context, recs []Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.capture.Write(ctx, recs)
}

func udpPipeline(t *testing.T) (*Pipeline, *syncCapture) {
	out := &syncCapture{}
	p, err := New(context.Background(), Options{}, out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p, out
}

// legacyV2 is the HEPv2 example of hep3.md §7 followed by a SIP payload.
func legacyV2(t *testing.T) []byte {
	head := testvec.Bytes(testvec.LegacyV2Header)
	return append(head, sipMsg("OPTIONS", "OPTIONS")...)
}

// TestUDPSource: HEP3 and legacy HEPv2 datagrams are stored, and whatever
// is queued when the context ends is still read (drain), not dropped.
func TestUDPSource(t *testing.T) {
	p, out := udpPipeline(t)
	files, _ := filepath.Glob("../testdata/kamailio-hep3-udp-datagrams/*.bin")
	// Queue everything before the reader starts, then stop it at once: all
	// of it must be drained.
	var datagrams [][]byte
	for _, f := range files {
		b, _ := os.ReadFile(f)
		datagrams = append(datagrams, b)
	}
	src, _ := drainUDP(t, p, udpTestOptions, append(datagrams, legacyV2(t), []byte("garbage"))...)
	if got, want := len(out.recs), len(files)+1; got != want {
		t.Fatalf("%d records, want %d (stats %+v)", got, want, p.Stats())
	}
	last := out.recs[len(out.recs)-1]
	if last.Table != TableSIPDefault || !strings.Contains(string(last.ProtocolHeader), `"timeSeconds":1700000000,"timeUseconds":123456`) ||
		!strings.Contains(string(last.ProtocolHeader), `"captureId":"2001"`) {
		t.Errorf("legacy v2 record: %s %s", last.Table, last.ProtocolHeader)
	}
	if st := p.Stats(); src.Datagrams() != uint64(len(files)+2) || st.SIPInvalid != 1 {
		t.Errorf("datagrams %d, stats %+v: want the non-HEP garbage counted as invalid SIP", src.Datagrams(), st)
	}
}

// TestUDPReadBuffer: udp_rcvbuf lands on the socket, or hepd refuses to
// start rather than run with a smaller buffer than configured.
func TestUDPReadBuffer(t *testing.T) {
	p, _ := udpPipeline(t)
	const want = 8 << 20
	src, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), UDPOptions{ReadBuffer: want}, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("as root SO_RCVBUFFORCE must pass rmem_max: %v", err)
		}
		if !strings.Contains(err.Error(), "rmem_max") {
			t.Fatalf("error does not say what to do: %v", err)
		}
		return
	}
	defer src.Close()
	raw, _ := src.conn.SyscallConn()
	var got int
	raw.Control(func(fd uintptr) { got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	if got < 2*want {
		t.Fatalf("SO_RCVBUF is %d, want %d (Linux reports double)", got, 2*want)
	}
}

// TestUDPRawSIP: a SIP datagram is stored with the datagram's addresses;
// CRLF keep-alives are ignored.
func TestUDPRawSIP(t *testing.T) {
	p, out := udpPipeline(t)
	src, local := drainUDP(t, p, udpTestOptions, []byte("\r\n\r\n"), []byte(sipMsg("INVITE", "INVITE")), []byte("\r\n"))
	if len(out.recs) != 1 || p.Stats().KeepAlives != 2 {
		t.Fatalf("%d records, stats %+v; want 1 record and 2 keep-alives", len(out.recs), p.Stats())
	}
	r := out.recs[0]
	want := `{"dstIp":"127.0.0.1","srcIp":"127.0.0.1","dstPort":` + itoa(int(src.Addr().Port())) + `,"srcPort":` + itoa(local.Port) +
		`,"protocol":17,"captureId":"hepd","payloadType":1,"timeSeconds":`
	if r.Table != TableSIPCall || !strings.HasPrefix(string(r.ProtocolHeader), want) ||
		!strings.HasSuffix(string(r.ProtocolHeader), `,"correlation_id":"c-INVITE","protocolFamily":2}`) {
		t.Fatalf("%s %s", r.Table, r.ProtocolHeader)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// kernelDrops is the drops column of /proc/net/udp for src's socket, read
// the way an operator would (the socket's inode, then the table).
func kernelDrops(t *testing.T, src *UDPSource) uint64 {
	t.Helper()
	raw, err := src.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	raw.Control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) })
	if err != nil {
		t.Fatal(err)
	}
	n, err := procUDPDrops(st.Ino)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUDPSocketDrops: with a 4 KiB receive buffer and the reader not
// running, a burst overflows the socket; the drop counter is the kernel's
// (/proc/net/udp), and every datagram sent was either read or counted as
// dropped. A socket that keeps up reports 0.
func TestUDPSocketDrops(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rcvbuf int
		sent   int
		drops  bool
	}{
		{"burst into a 4 KiB buffer while the reader is paused", 4096, 2000, true},
		{"a few datagrams into the default buffer", 0, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := udpPipeline(t)
			msg, msgs := []byte(sipMsg("OPTIONS", "OPTIONS")), make([][]byte, tc.sent)
			for i := range msgs {
				msgs[i] = msg
			}
			src, _ := sendUDP(t, p, UDPOptions{ReadBuffer: tc.rcvbuf}, msgs...)
			drops, err := src.SocketDrops()
			if err != nil {
				t.Fatal(err)
			}
			if kernel := kernelDrops(t, src); drops != kernel {
				t.Fatalf("SocketDrops %d, /proc/net/udp says %d", drops, kernel)
			}
			if (drops > 0) != tc.drops {
				t.Fatalf("%d drops of %d sent; want drops: %v", drops, tc.sent, tc.drops)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			src.Run(ctx) // reads what the socket holds, then closes it
			after, err := src.SocketDrops()
			if err != nil || after != drops {
				t.Fatalf("after close: %d, %v; want the last reading %d", after, err, drops)
			}
			if got := src.Datagrams() + drops; got != uint64(tc.sent) {
				t.Fatalf("read %d + dropped %d = %d, sent %d", src.Datagrams(), drops, got, tc.sent)
			}
			t.Logf("sent %d: read %d, kernel dropped %d", tc.sent, src.Datagrams(), drops)
		})
	}
}

// unpausableCapture records which Output method each record came through.
type unpausableCapture struct {
	syncCapture
	unpausable int
}

func (c *unpausableCapture) WriteUnpausable(ctx context.Context, recs []Record) error {
	c.mu.Lock()
	c.unpausable += len(recs)
	c.mu.Unlock()
	return c.Write(ctx, recs)
}

// TestUDPWritesUnpausable: records read from a UDP socket go to an
// UnpausableOutput's WriteUnpausable (the store spills rather than pause a
// reader that would drop datagrams), TCP frames to its Write.
func TestUDPWritesUnpausable(t *testing.T) {
	out := &unpausableCapture{}
	p, err := New(context.Background(), Options{}, out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	drainUDP(t, p, udpTestOptions, legacyV2(t))
	p.Deliver([]tcpstack.Frame{{Kind: tcpstack.FrameSIP, Data: []byte(sipMsg("INVITE", "INVITE")), RecvTime: time.Now()}})
	if len(out.recs) != 2 || out.unpausable != 1 {
		t.Errorf("%d records, %d through WriteUnpausable; want 2 and 1 (the UDP one)", len(out.recs), out.unpausable)
	}
}
