package tcpstack

import (
	"net/netip"
	"time"
)

// FrameKind says how a frame was delimited on the stream.
type FrameKind uint8

const (
	FrameHEP3 FrameKind = iota + 1 // "HEP3" + 16-bit total length
	FrameSIP                       // SIP headers + Content-Length (raw SIP capture)
)

// Frame is one complete message cut from a TCP stream.
type Frame struct {
	Kind FrameKind
	// Data is the whole message. It refers into the stack's buffers and is
	// valid only until the Deliver call that carried it returns.
	Data   []byte
	ConnID uint64
	Local  netip.AddrPort
	// Remote is the peer's address, or the PROXY-protocol source where the
	// connection began with a PROXY header.
	Remote   netip.AddrPort
	RecvTime time.Time
}

// Sink receives complete frames from the reader workers.
type Sink interface {
	// Deliver is called by one worker with every frame one poll round
	// produced (or part of them, when a round reads more than the worker's
	// read arena holds), in stream order per connection. It may block: while it does,
	// that worker reads nothing and TCP flow control slows the senders.
	// Frame data must be copied if it is needed after Deliver returns.
	Deliver(frames []Frame)
}
