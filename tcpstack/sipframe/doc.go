// Package sipframe finds message boundaries in a SIP-over-TCP byte stream
// the way Kamailio's reader does (tcp-params.md §2): leading CR/LF/SP/HT are
// skipped, an exact CRLFCRLF is a keep-alive ping, a SIP message is its
// header block up to the first empty line plus Content-Length body bytes,
// and, with tcp_accept_hep3, a message that begins with "HEP3" is a HEP3
// frame of the 16-bit length that follows (§3).
//
// It owns framing only: where one message ends and the next begins, and
// whether the stream is broken (too large, unusable Content-Length, bad HEP3
// length). It is a pure state machine over []byte: it never reads a socket,
// copies, allocates or keeps the caller's bytes, and it must not know what a
// SIP message means beyond the Content-Length header (and the top Via's
// alias parameter, for tcp_accept_aliases, §5), nor how a HEP3 frame is
// decoded, nor what the caller does with results (answering pings, closing
// connections, logging).
//
// # Deliberate differences from Kamailio
//
//   - HEP3 detection waits for 6 bytes at a boundary instead of handing a
//     short first segment to the SIP parser (§11.2), and leading CR/LF/SP/HT
//     are skipped before a HEP3 frame as before a SIP message, where
//     Kamailio would parse "\r\nHEP3…" as SIP (§3.1, §11.2).
//   - A HEP3 length below 6 or above Options.Max fails at once instead of
//     hanging (§11.3); the HEP3 limit is Options.Max, the same as for SIP,
//     where Kamailio's is one byte smaller (§11.4).
//   - HEP3 framing does not depend on AcceptNoCL (§11.1).
//   - "HEP3" is looked for at message boundaries only, not at the byte where
//     a partial SIP message stopped (the mid-message quirk of §3.1).
//   - A SIP message whose header length plus Content-Length exceeds Max
//     fails as soon as the headers end, instead of when the buffer fills.
//   - Skipped bytes are handed back at once (Kind Skip) so that an idle
//     connection holds no buffer; the Scanner still counts them against Max
//     until the next message completes, as Kamailio does (§2.2). One-shot
//     Next cannot know about bytes skipped in earlier calls.
//
// Everything else, including the quirks, follows Kamailio: Content_Length
// is accepted, a Content-Length inside a continuation line counts, a value
// folded onto the next line does not, "12a" or "abc" make the header
// absent, "12 x" means 12, the first usable Content-Length wins over later
// ones, and LF-only line ends work (LF LF and LF CR LF end the headers).
package sipframe
