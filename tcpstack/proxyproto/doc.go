// Package proxyproto parses the PROXY protocol header (HAProxy's v1 text
// line and v2 binary block) that a load balancer puts in front of an accepted
// TCP connection (tcp_accept_haproxy, tcp-params.md §4).
//
// It owns the wire format only: which bytes form a header, whether they are
// complete, well-formed, and what addresses they carry. Parse is a pure
// function over a []byte; it allocates nothing on success and does not retain
// b.
//
// It must not know about sockets, deadlines (tcp_wait_data), connection
// tables, counters or what the addresses are used for; acceptance policy
// beyond the wire format is the caller's.
//
// # Differences from Kamailio (tcpconn_read_haproxy), all deliberate
//
//   - Bytes are accumulated: a prefix of a header is ErrIncomplete, where
//     Kamailio judges only its first peek and rejects a split header (§4.7,
//     §11.7). A first segment that cannot begin a header is ErrNotProxy from
//     its first differing byte.
//   - The v2 address length is checked against the family (12, 36, 216
//     bytes) instead of reading stale bytes (§11.8).
//   - v1 is parsed as the PROXY specification writes it: exactly one space
//     between fields and CRLF right after the destination port, lines of at
//     most 107 bytes. Kamailio ignores bytes between the port and CRLF and
//     tolerates lines up to about 231 bytes.
//   - Port 0 is rejected in v2 as in v1 (§4.7: ports 1…65535).
//   - v2 PROXY with AF_UNSPEC or AF_UNIX is reported as Local, as the PROXY
//     specification asks; v2 UDP families are reported with TransportUDP.
//     Kamailio rejects all of these (§4.4); a caller that wants its rule
//     rejects Transport == TransportUDP and Local headers of version 2
//     whose Transport is not TransportUnspec (AF_UNIX).
package proxyproto
