package ingest

import (
	"context"
	"net/netip"
	"time"
)

// Homer 7 parent tables (homer-schema.md §2.2).
const (
	TableSIPCall         = "hep_proto_1_call"
	TableSIPRegistration = "hep_proto_1_registration"
	TableSIPDefault      = "hep_proto_1_default"
	TableRTCP            = "hep_proto_5_default"
	TableReport          = "hep_proto_35_default"
	TableDNS             = "hep_proto_53_default"
	TableISUP            = "hep_proto_54_default"
	TableLog             = "hep_proto_100_default"
)

// Record is one Homer 7 row. Its byte slices refer to the pipeline's buffers
// and to the received bytes: they are valid only during Output.Write.
type Record struct {
	Table          string
	SID            []byte
	CreateDate     time.Time
	ProtocolHeader []byte
	DataHeader     []byte
	Raw            []byte
}

// Output receives the records of one batch. Write may block (backpressure)
// and must copy whatever it keeps after returning.
type Output interface {
	Write(ctx context.Context, recs []Record) error
}

// UnpausableOutput is an Output that can also take records from a reader
// that cannot be paused without losing data: a UDP socket overflows while
// its reader waits, where TCP flow control would hold the sender back. The
// UDP source uses WriteUnpausable when the Output has it (the store then
// moves batches to its disk spool rather than make the reader wait).
type UnpausableOutput interface {
	Output
	WriteUnpausable(ctx context.Context, recs []Record) error
}

// Transport is how a message reached hepd.
type Transport uint8

const (
	TCP Transport = iota + 1
	UDP
)

func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "unknown"
}

// Source describes where one message came from; it is used for logs, for
// raw SIP as the message's addresses, and for the listener's auth key.
type Source struct {
	Transport Transport
	Local     netip.AddrPort
	Remote    netip.AddrPort
	RecvTime  time.Time
	Listener  *Listener // nil: no listener requirements (an outbound connection)
}
