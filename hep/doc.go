// Package hep decodes and encodes HEP (Homer Encapsulation Protocol) packets:
// HEP3 (and its "EEP1" alias) and the legacy HEPv1/HEPv2 fixed headers.
//
// The package owns the wire formats only: chunk parsing and validation,
// encoding, inflating compressed payloads and sanitising the sender's
// capture timestamp. It does not know about transports (UDP datagrams, TCP
// framing, PROXY headers), SIP or any other payload protocol, Homer tables,
// storage or metrics; callers map the typed errors to their own counters.
//
// Decoding is zero-copy and allocation-free: byte fields of a Packet are
// sub-slices of the decoded buffer, addresses are netip.Addr values, and
// every error is a sentinel value that can be tested with errors.Is.
//
// Decisions where the specification leaves room:
//   - Chunks with a vendor id other than 0 are never interpreted or
//     size-checked; the first len(Packet.Vendor) of them are kept raw.
//     Generic chunks that have no Packet field (MAC addresses, TCP flags,
//     MOS, …) are kept the same way and also recorded in Packet.Seen.
//   - A duplicated chunk overwrites the earlier one: the last one wins.
//   - Bytes after the declared total length are accepted and counted in
//     Packet.Trailing.
//   - Trailing NUL bytes are stripped from the auth key, correlation id
//     and node name.
//   - The keep-alive chunk (0x000d) is size-checked like the other
//     fixed-size chunks (2 bytes).
package hep
