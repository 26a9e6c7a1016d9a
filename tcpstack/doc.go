// Package tcpstack is hepd's TCP front end: listeners, the reactor (one
// acceptor plus tcp_children reader workers, each with its own poller chosen
// by tcp_poll_method), the per-worker connection tables and lifetime timers,
// and stream framing that cuts complete messages out of the byte stream.
//
// Its knobs are Kamailio's tcp_* core parameters with the same names,
// defaults and meaning (see /work/shared/spec/tcp-params.md); every deliberate
// difference is documented where the parameter is parsed, in Config.
//
// The package owns sockets and bytes. It knows HEP3 only as far as framing
// goes ("HEP3" + a 16-bit total length) and must not know how a frame is
// decoded, what a SIP message means, or anything of SQL: complete frames are
// handed to a Sink in batches, and what happens to them is the caller's
// business. While a Sink blocks, its worker reads nothing and TCP flow
// control pushes back on the senders, so no frame accepted is dropped.
//
// The stack is Linux-only: it drives epoll, poll and select itself through
// golang.org/x/sys/unix rather than using Go's runtime netpoller.
package tcpstack
