package main

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	gsoSupported = true
	// gsoMaxSegments is UDP_MAX_SEGMENTS of older kernels (newer ones
	// take 128).
	gsoMaxSegments = 64
)

var segmentControlLen = unix.CmsgSpace(2)

// appendSegmentControl appends a UDP_SEGMENT control message: cut the
// write into datagrams of size bytes.
func appendSegmentControl(b []byte, size int) []byte {
	at := len(b)
	b = append(b, make([]byte, segmentControlLen)...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[at]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&b[at+unix.CmsgLen(0)])) = uint16(size)
	return b
}

// gsoRefused reports whether err is the kernel declining to segment a
// write rather than refusing its datagrams, and whether only because of
// their size: EMSGSIZE (EINVAL in older kernels) says the route cannot cut
// datagrams that large, its MTU being smaller; EIO and the others that this
// kernel, socket or route cannot segment at all. EINVAL is also a socket
// without UDP checksums, which the sender then finds out size by size.
func gsoRefused(err error) (refused, bySize bool) {
	if errors.Is(err, unix.EMSGSIZE) || errors.Is(err, unix.EINVAL) {
		return true, true
	}
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.ENOPROTOOPT) || errors.Is(err, unix.EOPNOTSUPP), false
}
