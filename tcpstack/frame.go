package tcpstack

import (
	"net/netip"
	"time"
)

// FrameKind says how a frame was delimited on the stream.
type FrameKind uint8

const (
	FrameHEP3 FrameKind = iota + 1 // "HEP3" + 16-bit total length (tcp_accept_hep3)
	FrameSIP                       // SIP headers + Content-Length (raw SIP capture)
)

func (k FrameKind) String() string {
	switch k {
	case FrameHEP3:
		return "HEP3"
	case FrameSIP:
		return "SIP"
	}
	return "FrameKind(?)"
}

// Frame is one complete message cut from a TCP stream.
type Frame struct {
	Kind FrameKind
	// Data is the whole message. With tcp_clone_rcvbuf=no (the default) it
	// refers into the stack's buffers and is valid only until the Deliver
	// call that carried it returns; with tcp_clone_rcvbuf=yes it is the
	// sink's to keep or modify.
	Data   []byte
	ConnID uint64
	// Local is the address the peer connected to, or the PROXY-protocol
	// destination where the connection began with a PROXY header.
	Local netip.AddrPort
	// Remote is the peer's address, or the PROXY-protocol source where the
	// connection began with a PROXY header.
	Remote netip.AddrPort
	// Peer is the socket's peer: the same as Remote, or the proxy's address
	// when Proxied.
	Peer     netip.AddrPort
	Proxied  bool
	RecvTime time.Time
	// Listener is the index in Config.Listen of the listener that accepted
	// the connection, or -1 for an outbound connection. Unlike Local it
	// names the socket itself, whatever a PROXY header says: per-listener
	// policy (a HEP capture password) keys on it.
	Listener int
}

// Sink receives complete frames from the reader workers.
type Sink interface {
	// Deliver is called by one worker with every frame one poll round
	// produced (or part of them, when a round reads more than the worker's
	// read arena holds), in stream order per connection. It may block: while
	// it does, that worker reads nothing and TCP flow control slows the
	// senders. Frame data must be copied if it is needed after Deliver
	// returns, unless the stack clones (tcp_clone_rcvbuf).
	Deliver(frames []Frame)
}

// CheckedSink is a Sink that reports which frames it failed to process (a
// HEP packet that does not decode, a SIP payload that does not parse, a
// synchronous rejection by the pipeline): Kamailio's processing errors,
// which tcp_script_mode turns into closing the connection (even values) or
// carrying on (odd values). A stack whose sink implements CheckedSink calls
// DeliverChecked instead of Deliver.
type CheckedSink interface {
	Sink
	// DeliverChecked is Deliver that appends to failed the index in frames
	// of each frame whose processing failed, and returns it. failed is the
	// stack's and is empty on entry; the sink must not keep it. Failures
	// that happen after DeliverChecked returns (an asynchronous store) must
	// not be reported: Kamailio cannot see those either.
	DeliverChecked(frames []Frame, failed []int) []int
}
