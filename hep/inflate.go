package hep

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"slices"
)

// Inflate appends the decompressed form of a compressed payload (chunk
// 0x0010) to dst and returns the extended slice. The spec says only
// "gzip/inflate" and senders differ (captagent uses zlib's compress()), so
// it tries a zlib stream, then gzip, then raw deflate, and returns the first
// that decodes completely. At most limit bytes are appended: a larger output
// yields ErrInflateTooLong, which guards against decompression bombs. Other
// failures wrap ErrInflate. On error dst is returned unextended.
func Inflate(dst, compressed []byte, limit int) ([]byte, error) {
	var firstErr error
	for _, open := range [...]func(io.Reader) (io.ReadCloser, error){
		zlib.NewReader,
		func(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) },
		func(r io.Reader) (io.ReadCloser, error) { return flate.NewReader(r), nil },
	} {
		out, err := inflate(dst, compressed, limit, open)
		if err == nil || err == ErrInflateTooLong {
			return out, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return dst, fmt.Errorf("%w: %w", ErrInflate, firstErr)
}

func inflate(dst, compressed []byte, limit int, open func(io.Reader) (io.ReadCloser, error)) ([]byte, error) {
	r, err := open(bytes.NewReader(compressed))
	if err != nil {
		return dst, err
	}
	defer r.Close()
	out := dst
	for {
		n := len(out) - len(dst) // appended so far
		if len(out) == cap(out) {
			// SIP compresses about 3:1; read one byte past the limit so
			// that exactly limit bytes is not an error.
			out = slices.Grow(out, min(limit+1-n, max(4*len(compressed), 512)))
		}
		m, err := r.Read(out[len(out):min(cap(out), len(dst)+limit+1)])
		out = out[:len(out)+m]
		if len(out)-len(dst) > limit {
			return dst, ErrInflateTooLong
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
