package tcpstack

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/hepd/hepd/tcpstack/sipframe"
)

// FrameErrorKind says why a stream was found not to carry valid messages.
type FrameErrorKind uint8

const (
	// ErrTooLarge: a message (SIP, or HEP3 length) above the limit
	// tcp_rd_buf_size−1.
	ErrTooLarge FrameErrorKind = iota
	// ErrNoContentLength: SIP headers ended without a usable Content-Length
	// and tcp_accept_no_cl is off.
	ErrNoContentLength
	// ErrBadContentLength: a Content-Length value overflowed.
	ErrBadContentLength
	// ErrBadHEP3Length: a HEP3 total length below the 6-byte header.
	ErrBadHEP3Length
	// ErrTruncated: the connection ended inside a message.
	ErrTruncated
)

func (k FrameErrorKind) String() string {
	switch k {
	case ErrTooLarge:
		return "message too large"
	case ErrNoContentLength:
		return "no content-length"
	case ErrBadContentLength:
		return "bad content-length"
	case ErrBadHEP3Length:
		return "HEP3 length < 6"
	case ErrTruncated:
		return "truncated message"
	}
	return fmt.Sprintf("FrameErrorKind(%d)", uint8(k))
}

// FrameError is a framing failure; the connection it happened on is closed
// whatever tcp_script_mode says.
type FrameError struct {
	Kind  FrameErrorKind
	Held  int   // bytes of the message held when the stream broke or ended
	Limit int   // the connection's message size limit
	Err   error // the sipframe error, if any
}

func (e *FrameError) Error() string {
	switch {
	case e.Kind == ErrTruncated:
		return fmt.Sprintf("connection ended inside a message (%d bytes held)", e.Held)
	case e.Kind == ErrTooLarge:
		return fmt.Sprintf("%v (limit %d: tcp_rd_buf_size−1)", e.Err, e.Limit)
	}
	return e.Err.Error()
}

func (e *FrameError) Unwrap() error { return e.Err }

func frameError(err error, held, limit int) *FrameError {
	k := ErrTooLarge
	switch {
	case errors.Is(err, sipframe.ErrTooLarge):
	case errors.Is(err, sipframe.ErrBadHEP3Length):
		k = ErrBadHEP3Length
	case errors.Is(err, sipframe.ErrNoContentLength):
		k = ErrNoContentLength
	case errors.Is(err, sipframe.ErrBadContentLength):
		k = ErrBadContentLength
	}
	return &FrameError{Kind: k, Held: held, Limit: limit, Err: err}
}

// framer cuts messages (SIP, HEP3, pings) out of one connection's byte
// stream with a sipframe.Scanner. Complete messages found in the caller's
// read buffer are returned as sub-slices of it; only an incomplete tail is
// copied, into part (a buffer from bufs), because it must outlive the read
// buffer. A message completed in part is returned with that buffer as
// owned: the caller puts it back once the frame is no longer used.
type framer struct {
	limit int // largest message: tcp_rd_buf_size−1 when the connection was made
	bufs  *bufPool
	sc    sipframe.Scanner
	part  []byte
}

// next looks at the front of p (bytes just read). It returns how many bytes
// of p it consumed and what it found there; Kind Incomplete means every byte
// was taken and more are needed. A Skip or Ping finished from held bytes may
// consume none of p: the caller loops until p is consumed and the result is
// Incomplete. After an error the stream is unusable.
func (f *framer) next(p []byte, o sipframe.Options) (n int, r sipframe.Result, frame, owned []byte, err error) {
	o.Max = f.limit
	if f.part == nil {
		r, err = f.sc.Next(p, o)
		if err != nil {
			return 0, r, nil, nil, frameError(err, len(p), f.limit)
		}
		if r.Kind == sipframe.Incomplete {
			f.part = f.bufs.get(min(f.limit+1, max(4096, 2*len(p))))
			f.part = append(f.part, p...)
			return len(p), r, nil, nil, nil
		}
		return r.N, r, p[:r.N:r.N], nil, nil
	}

	// Bytes held: extend them with p a buffer's worth at a time. A held
	// tail is mostly a few hundred bytes short of its message while p may
	// be a whole read of 64 KiB, whose other messages are cut from the
	// read buffer itself. Beyond limit+1 bytes the scanner has decided (a
	// message that long is too large), so no more is copied.
	old, added := len(f.part), 0
	for {
		if len(f.part) == cap(f.part) && len(f.part) <= f.limit && added < len(p) {
			nb := f.bufs.get(min(f.limit+1, 2*cap(f.part)))
			nb = append(nb, f.part...)
			f.bufs.put(f.part)
			f.part = nb
		}
		k := min(len(p)-added, cap(f.part)-len(f.part), f.limit+1-len(f.part))
		f.part = append(f.part, p[added:added+k]...)
		added += k
		r, err = f.sc.Next(f.part, o)
		if err != nil {
			return 0, r, nil, nil, frameError(err, len(f.part), f.limit)
		}
		if r.Kind != sipframe.Incomplete {
			break
		}
		if added == len(p) {
			return added, r, nil, nil, nil
		}
		if len(f.part) > f.limit {
			// The scanner must have decided with limit+1 bytes; never drop
			// bytes silently.
			return 0, r, nil, nil, frameError(sipframe.ErrTooLarge, len(f.part), f.limit)
		}
	}
	if r.N < old {
		// A skip or ping made of held bytes only: keep the rest held.
		k := copy(f.part, f.part[r.N:old])
		f.part = f.part[:k]
		return 0, r, nil, nil, nil
	}
	n = r.N - old
	if r.Kind == sipframe.HEP3 || r.Kind == sipframe.SIP {
		frame, owned = f.part[:r.N:r.N], f.part
		f.part = nil
		return n, r, frame, owned, nil
	}
	f.bufs.put(f.part)
	f.part = nil
	return n, r, nil, nil, nil
}

// held reports how many bytes of an incomplete message the framer holds.
func (f *framer) held() int { return len(f.part) }

// release returns the framer's buffer, if any, and resets it.
func (f *framer) release() {
	if f.part != nil {
		f.bufs.put(f.part)
	}
	f.part = nil
	f.sc.Reset()
}

// bufPool is a worker-owned free list of frame buffers in power-of-two size
// classes. Being owned by one worker it needs no lock, and unlike sync.Pool
// it stores slices without boxing them.
type bufPool struct {
	free [maxBufShift + 1][][]byte
}

const (
	minBufShift   = 9  // 512 bytes
	maxBufShift   = 25 // 32 MiB, above the largest tcp_rd_buf_size+1
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
