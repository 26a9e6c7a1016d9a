package store

import "time"

// Row is one Homer 7 data row, ready to be written.
// Add copies every byte slice, so the caller may reuse its buffers as soon as
// Add returns.
type Row struct {
	Table          string // parent table, e.g. "hep_proto_1_call" (see Tables)
	SID            []byte
	CreateDate     time.Time // capture time; decides the partition
	ProtocolHeader []byte    // JSON object
	DataHeader     []byte    // JSON object
	Raw            []byte    // valid UTF-8 without NUL bytes
}
