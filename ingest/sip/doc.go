// Package sip extracts, from one SIP message, the header fields that Homer 7
// stores in the data_header column of hep_proto_1_* rows, and decides which
// of those tables (call, registration, default) a message is routed to.
//
// The package owns the SIP start line and header syntax: case-insensitive
// and compact header names, folding, CRLF or bare-LF line ends, name-addr
// and addr-spec forms, sip:, sips: and tel: URIs, and the names of the Homer
// data_header keys. It does not know about HEP framing, TCP stream framing
// beyond reporting header and body lengths, JSON encoding and escaping,
// database tables or configuration files; callers translate a [Profile] into
// a table name and [Key] values into JSON.
//
// Parsing is zero-copy and allocation-free: every byte slice in a [Message]
// is a sub-slice of the parsed buffer, valid only as long as that buffer is
// and never to be written to or appended to. A nil field means the header was
// absent; an empty non-nil field means it was present with an empty value.
//
// Homer strips NUL bytes and invalid UTF-8 from the payload before parsing.
// This package does not need that (any byte sequence is parsed safely), so
// values may contain NUL, control bytes or invalid UTF-8: a writer producing
// JSON for PostgreSQL jsonb, which rejects \u0000, must deal with them.
// Message.Clean tells whether there is anything to deal with: Parse finds
// it out in the pass over the message that also finds its line ends.
//
// Choices the package makes where SIP or Homer leave room:
//
//   - IPv6 hosts keep their brackets as written ("[2001:db8::10]"), so a
//     domain is always a sub-slice of the input and never ambiguous with a
//     port. Ports are never part of a domain.
//   - A header that may appear once (From, To, Call-ID, CSeq, Contact, …)
//     is taken from its first occurrence; so is each extra header. The
//     username comes from the first Authorization or Proxy-Authorization
//     header that carries one. Via is the whole first Via header; ViaBranch
//     and ViaAlias come from its first comma-separated element (the top Via).
//     A parameter given twice (";tag=a;tag=b") is also taken from its first
//     occurrence.
//   - A-leg headers are searched in configured order: the first configured
//     name that is present wins, wherever it appears in the message.
//   - Folded header values keep their line breaks: a value spanning
//     continuation lines is one sub-slice that includes the CRLF and the
//     leading whitespace of each continuation line.
package sip
