// Package tcpstack is hepd's TCP front end: listeners, the reactor (one
// acceptor plus tcp_children reader workers, each with its own poller chosen
// by tcp_poll_method), the connection table, stream framing that cuts
// complete messages out of the byte stream, the write path (pongs and
// outbound data, with Kamailio's write queues) and outbound connections
// (Stack.Dial).
//
// Its knobs are Kamailio's tcp_* core parameters with the same names,
// defaults and meaning (the project's tcp-params notes describe Kamailio's); every deliberate
// difference is documented where the parameter is declared, in Config. The
// admin API reads and changes them by name (Stack.GetParams, Stack.SetParam,
// RuntimeNames); the runtime-changeable ones live in one immutable Runtime
// snapshot, swapped atomically and read by each worker once per poll round.
//
// The package owns sockets and bytes. It knows HEP3 and SIP only as far as
// framing goes (package sipframe: "HEP3" + a 16-bit total length; SIP
// headers + Content-Length; CRLF pings), and the PROXY protocol header
// (package proxyproto). It must not know how a frame is decoded or stored:
// complete frames are handed to a Sink in batches. While a Sink blocks, its
// worker reads nothing and TCP flow control pushes back on the senders, so
// no frame accepted is dropped. A Sink that also implements CheckedSink
// reports processing failures, which tcp_script_mode turns into closing the
// connection or carrying on.
//
// disable_tcp is the caller's: hepd does not call New when it is set, so no
// socket is opened and nothing can be dialed.
//
// Deliberate differences from Kamailio (spec §11), also listed per field:
//   - HEP3 framing does not need tcp_accept_no_cl; a HEP3 frame waits for its
//     6-byte header and may follow skipped CR/LF; a bad length fails at once
//     (sipframe).
//   - tcp_accept_haproxy rejects every connection that does not begin with a
//     conforming PROXY v1/v2 header; the wait (tcp_wait_data) is a deadline
//     per connection, so it never delays other connections.
//   - tcp_accept_unique compares (remote, local) of the new connection with
//     the live ones, after PROXY, and frees the slot of a rejected one.
//   - Runtime changes of listener socket options (keepalive, linger2,
//     syncnt, send_timeout's TCP_USER_TIMEOUT) are re-applied to the
//     listeners at once, so new accepted connections get them; Kamailio's
//     reach outbound sockets only (§11.9).
//   - tcp_script_mode applies to HEP3 frames as to SIP (§11.5).
//   - Aliases come only from natively received SIP, never from SIP inside
//     HEP3 (§11.13); pongs go only on the connection that pinged (§11.18).
//   - Socket option values Linux cannot honour are a start-up error rather
//     than a warning and an unset option.
//   - Timers are exact (no 5–12 s of slack, §11.10). That includes the wait
//     rules of §9, tcp_msg_read_timeout and tcp_msg_data_timeout: each
//     connection is judged at its own deadline rather than by a sweep every
//     tcp_check_timer seconds, which only switches them on or off; 0 turns a
//     rule off (Kamailio's tcp_msg_read_timeout=0 closes at every read).
//   - A connection whose socket holds unread bytes when a wait rule, its
//     lifetime or its PROXY wait runs out is kept and its clock restarted:
//     its worker was blocked in Sink.Deliver (backpressure), so the delay
//     was the stack's.
//
// The stack is Linux-only: it drives epoll, poll and select itself through
// golang.org/x/sys/unix rather than using Go's runtime netpoller.
package tcpstack
