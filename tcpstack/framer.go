package tcpstack

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

const hep3HeaderLen = 6 // "HEP3" + 16-bit big-endian total length

// FrameErrorKind says why a stream was found not to carry valid frames.
type FrameErrorKind uint8

const (
	// ErrBadMagic: the bytes at a message boundary are not "HEP3".
	ErrBadMagic FrameErrorKind = iota
	// ErrLengthTooShort: a HEP3 total length below the 6-byte header.
	ErrLengthTooShort
	// ErrLengthTooLong: a HEP3 total length above the connection's
	// tcp_rd_buf_size.
	ErrLengthTooLong
	// ErrTruncated: the connection ended inside a frame.
	ErrTruncated
	numFrameErrorKinds
)

func (k FrameErrorKind) String() string {
	switch k {
	case ErrBadMagic:
		return "bad magic"
	case ErrLengthTooShort:
		return "length < 6"
	case ErrLengthTooLong:
		return "length > limit"
	case ErrTruncated:
		return "truncated frame"
	}
	return fmt.Sprintf("FrameErrorKind(%d)", uint8(k))
}

// FrameError is a framing failure; the connection it happened on is closed.
type FrameError struct {
	Kind   FrameErrorKind
	Length int // the advertised frame length, or the bytes held when truncated
	Limit  int // the connection's frame size limit
}

func (e *FrameError) Error() string {
	switch e.Kind {
	case ErrLengthTooShort:
		return fmt.Sprintf("HEP3 frame length %d < %d", e.Length, hep3HeaderLen)
	case ErrLengthTooLong:
		return fmt.Sprintf("HEP3 frame length %d > limit %d (tcp_rd_buf_size)", e.Length, e.Limit)
	case ErrTruncated:
		return fmt.Sprintf("connection ended inside a frame (%d bytes held)", e.Length)
	}
	return e.Kind.String()
}

// framerState is where a framer is in the stream. Later formats add states
// here (PROXY header wait before the first boundary, SIP headers and body
// after a boundary that is not "HEP3"), each deciding at a boundary from the
// bytes held in hdr.
type framerState uint8

const (
	// stateBoundary: between messages; up to 5 bytes of the next header may
	// be held in hdr.
	stateBoundary framerState = iota
	// stateHEP3: the header is known; the frame is being collected in part.
	stateHEP3
)

// framer cuts HEP3 frames out of a TCP byte stream. It is a pure state
// machine over the bytes it is fed: it holds no reference to them, and copies
// only the tail of an incomplete frame (into a buffer from bufs sized to the
// frame) because that tail must outlive the caller's read buffer.
type framer struct {
	limit int // largest frame accepted: tcp_rd_buf_size when the connection was made
	bufs  *bufPool
	state framerState
	hdrN  int
	hdr   [hep3HeaderLen]byte
	part  []byte // the incomplete frame so far (stateHEP3)
	need  int    // its total length
}

// next cuts at most one frame from the front of p. It returns how many
// bytes of p it consumed and, when a frame completed, the frame. A frame with
// owned set lives in a buffer from bufs, which the caller must put back once
// the frame is no longer used; otherwise the frame is a sub-slice of p.
// Each call either consumes at least one byte of a non-empty p or returns an
// error; after an error the stream is unusable.
func (f *framer) next(p []byte) (n int, frame []byte, owned bool, err error) {
	if f.state == stateHEP3 {
		k := copy(f.part[len(f.part):f.need], p)
		f.part = f.part[:len(f.part)+k]
		if len(f.part) < f.need {
			return k, nil, false, nil
		}
		frame = f.part
		f.part, f.need, f.state = nil, 0, stateBoundary
		return k, frame, true, nil
	}

	if f.hdrN == 0 && len(p) >= hep3HeaderLen {
		l, err := f.header(p[:hep3HeaderLen])
		if err != nil {
			return 0, nil, false, err
		}
		if len(p) >= l {
			return l, p[:l:l], false, nil
		}
		f.part = f.bufs.get(l)[:len(p)]
		copy(f.part, p)
		f.need, f.state = l, stateHEP3
		return len(p), nil, false, nil
	}

	// Fewer than 6 bytes at the boundary: hold them and wait for the rest
	// (Kamailio would hand them to the SIP parser instead, spec §11.2).
	k := copy(f.hdr[f.hdrN:], p)
	f.hdrN += k
	if f.hdrN < hep3HeaderLen {
		return k, nil, false, nil
	}
	l, err := f.header(f.hdr[:])
	if err != nil {
		return k, nil, false, err
	}
	f.hdrN = 0
	f.part = append(f.bufs.get(l), f.hdr[:]...)
	f.need, f.state = l, stateHEP3
	if l == hep3HeaderLen {
		frame = f.part
		f.part, f.need, f.state = nil, 0, stateBoundary
		return k, frame, true, nil
	}
	return k, nil, false, nil
}

// header validates a HEP3 header and returns the frame's total length.
func (f *framer) header(h []byte) (int, error) {
	if string(h[:4]) != "HEP3" {
		return 0, &FrameError{Kind: ErrBadMagic, Limit: f.limit}
	}
	l := int(binary.BigEndian.Uint16(h[4:6]))
	if l < hep3HeaderLen {
		return 0, &FrameError{Kind: ErrLengthTooShort, Length: l, Limit: f.limit}
	}
	if l > f.limit {
		return 0, &FrameError{Kind: ErrLengthTooLong, Length: l, Limit: f.limit}
	}
	return l, nil
}

// held reports how many bytes of an incomplete message the framer holds.
func (f *framer) held() int {
	if f.state == stateHEP3 {
		return len(f.part)
	}
	return f.hdrN
}

// release returns the framer's buffer, if any, and resets it to a boundary.
func (f *framer) release() {
	if f.part != nil {
		f.bufs.put(f.part)
	}
	f.part, f.need, f.hdrN, f.state = nil, 0, 0, stateBoundary
}

// bufPool is a worker-owned free list of frame buffers in power-of-two size
// classes. Being owned by one worker it needs no lock, and unlike sync.Pool
// it stores slices without boxing them.
type bufPool struct {
	free [maxBufShift + 1][][]byte
}

const (
	minBufShift   = 9  // 512 bytes
	maxBufShift   = 24 // 16 MiB, the largest tcp_rd_buf_size
	maxFreePerCls = 32 // beyond this, returned buffers are left to the GC
)

func bufClass(n int) int {
	return max(bits.Len(uint(n-1)), minBufShift)
}

// get returns an empty buffer with capacity for at least n bytes.
func (b *bufPool) get(n int) []byte {
	c := bufClass(n)
	if c > maxBufShift {
		return make([]byte, 0, n)
	}
	if l := len(b.free[c]); l > 0 {
		buf := b.free[c][l-1]
		b.free[c][l-1] = nil
		b.free[c] = b.free[c][:l-1]
		return buf[:0]
	}
	return make([]byte, 0, 1<<c)
}

func (b *bufPool) put(buf []byte) {
	c := bufClass(cap(buf))
	if c > maxBufShift || cap(buf) != 1<<c || len(b.free[c]) >= maxFreePerCls {
		return
	}
	b.free[c] = append(b.free[c], buf[:0])
}
