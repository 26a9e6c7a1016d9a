// Package ingest turns captured messages into Homer 7 records.
//
// It owns the pipeline between the network and the database: a frame from
// the TCP stack or a UDP datagram is decoded as HEP (package hep), its SIP
// payload is parsed (package ingest/sip), it is routed to a Homer 7 table
// (hep_proto_<type>_<profile>) and its protocol_header and data_header JSON
// are built by hand, without reflection, into reusable buffers. Records are
// handed in batches to an Output, which may block: that is how a slow
// database pushes back on the readers.
//
// Each message carries its Listener: what the address it reached requires
// (the HEP capture password, chunk 0x000e) and the count of what it refused.
//
// ingest knows nothing of sockets beyond the frames it is given (the UDP
// source is the one place that reads a socket, through golang.org/x/net, and
// reads the kernel's drop counter of that socket) and
// nothing of SQL: the Output is the store, wired in by cmd/hepd.
package ingest
