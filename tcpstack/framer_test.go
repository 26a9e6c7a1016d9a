package tcpstack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hepd/hepd/tcpstack/sipframe"
)

// readStream returns a test stream and its frames, split independently of the
// framer.
func readStream(tb testing.TB, name string) ([]byte, [][]byte) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var frames [][]byte
	for o := 0; o < len(data); {
		l := int(binary.BigEndian.Uint16(data[o+4:]))
		frames = append(frames, data[o:o+l])
		o += l
	}
	return data, frames
}

const kamailioStream = "kamailio-hep3-tcp-stream-5calls.bin"

// hep3 builds a syntactically framed HEP3 message of total length n.
func hep3(n int, fill byte) []byte {
	b := bytes.Repeat([]byte{fill}, n)
	copy(b, "HEP3")
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	return b
}

// hep3Header is a bare header advertising length l.
func hep3Header(l int) []byte {
	return binary.BigEndian.AppendUint16([]byte("HEP3"), uint16(l))
}

// feed runs a framer over chunks and returns copies of the frames (a ping
// as "PING") and the first error. Owned buffers are put back at once, as a
// worker would after delivery, so reuse bugs show up as corrupted frames.
func feed(limit int, chunks ...[]byte) ([][]byte, error) {
	return feedOpts(limit, sipframe.Options{AcceptHEP3: true, CRLFPing: true}, chunks...)
}

func feedOpts(limit int, o sipframe.Options, chunks ...[]byte) ([][]byte, error) {
	var bufs bufPool
	f := framer{limit: limit, bufs: &bufs}
	var out [][]byte
	for _, p := range chunks {
		for len(p) > 0 || f.held() > 0 {
			n, r, fr, owned, err := f.next(p, o)
			if err != nil {
				return out, err
			}
			p = p[n:]
			switch r.Kind {
			case sipframe.Incomplete:
				if len(p) > 0 {
					panic("framer left bytes on Incomplete")
				}
			case sipframe.Ping:
				out = append(out, []byte("PING"))
			case sipframe.HEP3, sipframe.SIP:
				out = append(out, bytes.Clone(fr))
				if owned != nil {
					bufs.put(owned)
				}
			}
			if r.Kind == sipframe.Incomplete {
				break
			}
		}
	}
	return out, nil
}

var (
	sipWithBody = []byte("MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5060\r\nContent-Length: 5\r\n\r\nhello")
	sipNoCL     = []byte("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5060\r\n\r\n")
	ping        = []byte("\r\n\r\n")
)

func TestFramer(t *testing.T) {
	stream, frames := readStream(t, kamailioStream)
	f1 := hep3(100, 'a')
	f2 := hep3(6, 0)
	f3 := hep3(70000&0xffff, 'c') // 4464: a frame larger than most reads
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	P := []byte("PING")

	tests := []struct {
		name    string
		limit   int
		noCL    bool
		chunks  [][]byte
		want    [][]byte
		wantErr FrameErrorKind
		isErr   bool
	}{
		{name: "one frame in one read", limit: 65535, chunks: [][]byte{f1}, want: [][]byte{f1}},
		{name: "several frames in one read are all emitted", limit: 65535, chunks: [][]byte{cat(f1, f2, f3)}, want: [][]byte{f1, f2, f3}},
		{name: "header-only frame of length 6", limit: 65535, chunks: [][]byte{f2, f2}, want: [][]byte{f2, f2}},
		{name: "header split after 1 byte", limit: 65535, chunks: [][]byte{f1[:1], f1[1:]}, want: [][]byte{f1}},
		{name: "header split after 5 bytes", limit: 65535, chunks: [][]byte{f1[:5], f1[5:]}, want: [][]byte{f1}},
		{name: "split right after header", limit: 65535, chunks: [][]byte{f1[:6], f1[6:]}, want: [][]byte{f1}},
		{name: "split mid-body then next frame in same read", limit: 65535, chunks: [][]byte{f1[:50], cat(f1[50:], f3[:2]), f3[2:]}, want: [][]byte{f1, f3}},
		{name: "one byte per read", limit: 65535, chunks: bytesOf(cat(f1, f2)), want: [][]byte{f1, f2}},
		{name: "frame of exactly the limit", limit: 512, chunks: [][]byte{hep3(512, 'x')}, want: [][]byte{hep3(512, 'x')}},
		{name: "kamailio stream", limit: 65535, chunks: [][]byte{stream}, want: frames},
		{name: "SIP with Content-Length", limit: 65535, chunks: [][]byte{sipWithBody}, want: [][]byte{sipWithBody}},
		{name: "SIP one byte per read", limit: 65535, chunks: bytesOf(sipWithBody), want: [][]byte{sipWithBody}},
		{name: "ping answered, lone CRLF skipped", limit: 65535, chunks: [][]byte{cat(ping, []byte("\r\n"), f1)}, want: [][]byte{P, f1}},
		{name: "ping split in bytes between frames", limit: 65535, chunks: append(append([][]byte{f1}, bytesOf(ping)...), f2), want: [][]byte{f1, P, f2}},
		{name: "CRLF CR then a frame: skip held bytes", limit: 65535, chunks: [][]byte{[]byte("\r\n\r"), f1}, want: [][]byte{f1}},
		{name: "HEP3, SIP and pings interleaved", limit: 65535, chunks: [][]byte{cat(f1, ping, sipWithBody, f2)}, want: [][]byte{f1, P, sipWithBody, f2}},
		{name: "SIP without Content-Length closes (tcp_accept_no_cl=no)", limit: 65535, chunks: [][]byte{sipNoCL}, isErr: true, wantErr: ErrNoContentLength},
		{name: "SIP without Content-Length ends at the blank line (tcp_accept_no_cl=yes)", limit: 65535, noCL: true, chunks: [][]byte{sipNoCL, f1}, want: [][]byte{sipNoCL, f1}},
		{name: "HEP3 length 0", limit: 65535, chunks: [][]byte{hep3Header(0)}, isErr: true, wantErr: ErrBadHEP3Length},
		{name: "HEP3 length 5 split header", limit: 65535, chunks: [][]byte{hep3Header(5)[:2], hep3Header(5)[2:]}, isErr: true, wantErr: ErrBadHEP3Length},
		{name: "HEP3 length one over the limit", limit: 512, chunks: [][]byte{hep3Header(513)}, isErr: true, wantErr: ErrTooLarge},
		{name: "SIP headers beyond the limit", limit: 512, chunks: [][]byte{bytes.Repeat([]byte("X-A: b\r\n"), 100)}, isErr: true, wantErr: ErrTooLarge},
		{name: "fewer than 6 bytes wait for more", limit: 65535, chunks: [][]byte{[]byte("HEP")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := feedOpts(tt.limit, sipframe.Options{AcceptHEP3: true, CRLFPing: true, AcceptNoCL: tt.noCL}, tt.chunks...)
			if tt.isErr {
				var fe *FrameError
				if !errors.As(err, &fe) || fe.Kind != tt.wantErr {
					t.Fatalf("err = %v, want FrameError %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d frames, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Fatalf("frame %d differs: %q", i, got[i])
				}
			}
		})
	}
}

func TestFramerHeldAndRelease(t *testing.T) {
	var bufs bufPool
	o := sipframe.Options{AcceptHEP3: true}
	f := framer{limit: 65535, bufs: &bufs}
	fr := hep3(1000, 'z')
	if n, _, _, _, _ := f.next(fr[:3], o); n != 3 || f.held() != 3 {
		t.Fatalf("held = %d after 3 header bytes", f.held())
	}
	for p := fr[3:500]; len(p) > 0; {
		n, _, _, _, _ := f.next(p, o)
		p = p[n:]
	}
	if f.held() != 500 {
		t.Fatalf("held = %d, want 500", f.held())
	}
	cls := bufClass(cap(f.part))
	f.release()
	if f.held() != 0 || f.part != nil {
		t.Fatal("release left state behind")
	}
	if len(bufs.free[cls]) != 1 {
		t.Fatal("release did not return the buffer")
	}
}

// TestFramerHeldTailReused: a stream read 64 KiB at a time ends most reads
// inside a message. Completing that message copies only what its buffer
// holds, not the whole next read, and its buffer, put back after delivery,
// serves the next tail: framing allocates nothing once warm.
func TestFramerHeldTailReused(t *testing.T) {
	var stream []byte
	for i := 0; len(stream) < 64<<10*40; i++ {
		stream = append(stream, hep3(500+i%300, byte(i))...)
	}
	var bufs bufPool
	f := framer{limit: 65535, bufs: &bufs}
	o := sipframe.Options{AcceptHEP3: true}
	var owned [][]byte
	frames, pos := 0, 0
	read := func() { // one 64 KiB read, then the delivery that puts buffers back
		p := stream[pos:min(len(stream), pos+64<<10)]
		pos += len(p)
		for len(p) > 0 || f.held() > 0 {
			n, r, fr, own, err := f.next(p, o)
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
			if r.Kind == sipframe.Incomplete {
				break
			}
			if fr != nil {
				frames++
			}
			if own != nil {
				owned = append(owned, own)
			}
		}
		for _, b := range owned {
			bufs.put(b)
		}
		owned = owned[:0]
	}
	for range 4 { // warm up the pool
		read()
	}
	if allocs := testing.AllocsPerRun(30, read); allocs != 0 {
		t.Errorf("%.1f allocations per 64 KiB read", allocs)
	}
	for c := range bufs.free {
		if len(bufs.free[c]) > 0 && 1<<c > 4096 {
			t.Errorf("a held tail grew a buffer of %d bytes; messages are under 1 KiB", 1<<c)
		}
	}
	if frames < 35*64<<10/800 {
		t.Errorf("%d frames in %d bytes", frames, pos)
	}
}

func bytesOf(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// FuzzFramer checks that any chunking of a stream yields exactly what
// framing it in one piece yields (frames and error), and that arbitrary bytes
// never panic.
func FuzzFramer(f *testing.F) {
	stream, _ := readStream(f, kamailioStream)
	heplify, _ := readStream(f, "heplify-hep3-tcp-stream-5calls.bin")
	f.Add(stream, []byte{1, 2, 3, 5, 7, 250})
	f.Add(heplify[:5000], []byte{6})
	f.Add(append(hep3(6, 0), hep3Header(3)...), []byte{1})
	f.Add([]byte("HEP3\xff\xffabc"), []byte{2, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n"), []byte{})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		const limit = 4096
		want, wantErr := feed(limit, data)
		var chunks [][]byte
		rest := data
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(int(cuts[i%len(cuts)])+1, len(rest))
			}
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		got, gotErr := feed(limit, chunks...)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("one-shot err %v, chunked err %v", wantErr, gotErr)
		}
		if wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Fatalf("one-shot err %v, chunked err %v", wantErr, gotErr)
		}
		if len(got) != len(want) {
			t.Fatalf("one-shot %d frames, chunked %d", len(want), len(got))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d differs", i)
			}
		}
	})
}

func BenchmarkFramer(b *testing.B) {
	stream, frames := readStream(b, kamailioStream)
	var bufs bufPool
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		f := framer{limit: 65535, bufs: &bufs}
		for p := stream; len(p) > 0; {
			k, _, fr, owned, err := f.next(p, sipframe.Options{AcceptHEP3: true})
			if err != nil {
				b.Fatal(err)
			}
			p = p[k:]
			if fr != nil {
				n++
				if owned != nil {
					bufs.put(owned)
				}
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "frames/s")
	_ = frames
}
