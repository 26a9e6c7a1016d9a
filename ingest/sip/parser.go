package sip

import (
	"bytes"
	"errors"
	"fmt"
)

// Parse errors. They are sentinels, so returning one does not allocate.
var (
	ErrTooShort  = errors.New("sip: message of 32 bytes or less")
	ErrStartLine = errors.New("sip: invalid start line")
	ErrNoCallID  = errors.New("sip: missing or empty Call-ID")
	ErrNoCSeq    = errors.New("sip: missing CSeq or CSeq method shorter than 3 characters")
)

// minLen is the shortest payload Homer parses: heplify-server drops SIP
// payloads of 32 bytes or less.
const minLen = 33

// Options configures a Parser.
type Options struct {
	// ExtraHeaders lists custom headers to capture into Message.Extra,
	// matched case-insensitively, compact forms included ("Subject" also
	// matches "s"). At most MaxExtraHeaders.
	ExtraHeaders []string

	// ALegHeaders lists A-leg correlation headers (e.g. "X-CID") in order of
	// preference; the first one present with a non-empty value becomes
	// Message.ALeg. At most MaxALegHeaders.
	ALegHeaders []string
}

// A Parser extracts Homer data_header fields from SIP messages. It is
// read-only after NewParser and safe for concurrent use.
type Parser struct {
	extra []headerName
	aleg  []headerName
	lens  uint64 // bit n set if a configured name (or its compact form) has length n < 64
}

// headerName is a configured header name, prepared for matching.
type headerName struct {
	full    string // lower case, long form
	compact byte   // compact form letter, or 0
}

func (h *headerName) match(name []byte) bool {
	if len(name) == 1 && h.compact != 0 && lower(name[0]) == h.compact {
		return true
	}
	return equalFold(name, h.full)
}

// NewParser returns a Parser for o. It rejects more than MaxExtraHeaders
// extra or MaxALegHeaders A-leg headers, names that are not SIP tokens, and
// names listed twice in the same list.
func NewParser(o Options) (*Parser, error) {
	if len(o.ExtraHeaders) > MaxExtraHeaders {
		return nil, fmt.Errorf("sip: %d extra headers, at most %d allowed", len(o.ExtraHeaders), MaxExtraHeaders)
	}
	if len(o.ALegHeaders) > MaxALegHeaders {
		return nil, fmt.Errorf("sip: %d A-leg headers, at most %d allowed", len(o.ALegHeaders), MaxALegHeaders)
	}
	extra, err := headerNames("extra", o.ExtraHeaders)
	if err != nil {
		return nil, err
	}
	aleg, err := headerNames("A-leg", o.ALegHeaders)
	if err != nil {
		return nil, err
	}
	p := &Parser{extra: extra, aleg: aleg}
	for _, hs := range [][]headerName{extra, aleg} {
		for _, h := range hs {
			if len(h.full) < 64 {
				p.lens |= 1 << len(h.full)
			}
			if h.compact != 0 {
				p.lens |= 1 << 1
			}
		}
	}
	return p, nil
}

// configured reports whether a header name of length n may be one of the
// configured extra or A-leg headers; it spares most lines the comparisons.
func (p *Parser) configured(n int) bool {
	return n >= 64 || p.lens>>n&1 != 0
}

func headerNames(what string, names []string) ([]headerName, error) {
	hs := make([]headerName, 0, len(names))
	for _, s := range names {
		if s == "" {
			return nil, fmt.Errorf("sip: empty %s header name", what)
		}
		b := []byte(s)
		for i, c := range b {
			if !isToken(c) {
				return nil, fmt.Errorf("sip: %s header name %q: invalid byte %q", what, s, c)
			}
			b[i] = lower(c)
		}
		h := headerName{full: string(b)}
		if len(b) == 1 {
			if long := compactLong(b[0]); long != "" {
				h.full, h.compact = long, b[0]
			}
		} else {
			h.compact = compactLetter(h.full)
		}
		for _, prev := range hs {
			if prev.full == h.full {
				return nil, fmt.Errorf("sip: %s header %q listed twice", what, s)
			}
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// compactLong returns the long form of a compact header name (RFC 3261
// §7.3.3 and the IANA SIP header registry), or "".
func compactLong(c byte) string {
	switch c {
	case 'a':
		return "accept-contact"
	case 'b':
		return "referred-by"
	case 'c':
		return "content-type"
	case 'd':
		return "request-disposition"
	case 'e':
		return "content-encoding"
	case 'f':
		return "from"
	case 'i':
		return "call-id"
	case 'j':
		return "reject-contact"
	case 'k':
		return "supported"
	case 'l':
		return "content-length"
	case 'm':
		return "contact"
	case 'n':
		return "identity-info"
	case 'o':
		return "event"
	case 'r':
		return "refer-to"
	case 's':
		return "subject"
	case 't':
		return "to"
	case 'u':
		return "allow-events"
	case 'v':
		return "via"
	case 'x':
		return "session-expires"
	case 'y':
		return "identity"
	}
	return ""
}

// compactLetter is the inverse of compactLong.
func compactLetter(long string) byte {
	for c := byte('a'); c <= 'z'; c++ {
		if compactLong(c) == long {
			return c
		}
	}
	return 0
}

// hdr identifies the headers Parse extracts; each is also a bit in
// Message.seen so that the first occurrence wins.
type hdr uint32

const (
	hNone hdr = 0
	hVia  hdr = 1 << iota
	hFrom
	hTo
	hCallID
	hCSeq
	hContact
	hPAI
	hAuth // Authorization and Proxy-Authorization
	hUserAgent
	hServer
	hContentType
	hReason
	hDiversion
	hExpires
	hContentLength
)

// lookup classifies a header name, ignoring case.
func lookup(name []byte) hdr {
	switch len(name) {
	case 1:
		switch lower(name[0]) {
		case 'v':
			return hVia
		case 'f':
			return hFrom
		case 't':
			return hTo
		case 'i':
			return hCallID
		case 'm':
			return hContact
		case 'c':
			return hContentType
		case 'l':
			return hContentLength
		}
	case 2:
		if equalFold(name, "to") {
			return hTo
		}
	case 3:
		if equalFold(name, "via") {
			return hVia
		}
	case 4:
		switch {
		case equalFold(name, "from"):
			return hFrom
		case equalFold(name, "cseq"):
			return hCSeq
		}
	case 6:
		switch {
		case equalFold(name, "server"):
			return hServer
		case equalFold(name, "reason"):
			return hReason
		}
	case 7:
		switch {
		case equalFold(name, "call-id"):
			return hCallID
		case equalFold(name, "contact"):
			return hContact
		case equalFold(name, "expires"):
			return hExpires
		}
	case 9:
		if equalFold(name, "diversion") {
			return hDiversion
		}
	case 10:
		if equalFold(name, "user-agent") {
			return hUserAgent
		}
	case 12:
		if equalFold(name, "content-type") {
			return hContentType
		}
	case 13:
		if equalFold(name, "authorization") {
			return hAuth
		}
	case 14:
		if equalFold(name, "content-length") {
			return hContentLength
		}
	case 19:
		switch {
		case equalFold(name, "p-asserted-identity"):
			return hPAI
		case equalFold(name, "proxy-authorization"):
			return hAuth
		}
	}
	return hNone
}

// Parse resets m and fills it from the SIP message in b. It returns
// ErrTooShort for 32 bytes or less, ErrStartLine if the first line is
// neither a request line nor a status line, ErrNoCallID and ErrNoCSeq when
// the message cannot be stored by Homer, checked in that order. Empty lines
// before the start line are skipped (RFC 3261 §7.5). On error m holds what
// was parsed so far. Parse never allocates.
func (p *Parser) Parse(b []byte, m *Message) error {
	*m = Message{ContentLength: -1, HeaderLen: len(b)}
	if len(b) < minLen {
		return ErrTooShort
	}

	pos := 0
	for pos < len(b) && (b[pos] == '\r' || b[pos] == '\n') {
		pos++
	}
	end, next := nextLine(b, pos)
	if !parseStartLine(b[pos:end], m) {
		return ErrStartLine
	}

	for pos = next; pos < len(b); pos = next {
		end, next = nextLine(b, pos)
		if end == pos {
			m.HeaderLen = next
			body := b[next:]
			if m.ContentLength >= 0 && m.ContentLength <= len(body) {
				body = body[:m.ContentLength]
			}
			m.Body = body
			break
		}
		// Continuation lines (starting with SP or HTAB) belong to this header.
		for next < len(b) && isSpace(b[next]) {
			end, next = nextLine(b, next)
		}
		p.header(b[pos:end], m)
	}

	if len(m.CallID) == 0 {
		return ErrNoCallID
	}
	if len(m.CSeqMethod) < 3 {
		return ErrNoCSeq
	}
	return nil
}

// nextLine returns the end of the line that starts at b[i], without its
// CRLF or LF, and the start of the following line.
func nextLine(b []byte, i int) (end, next int) {
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		end, next = len(b), len(b)
	} else {
		end, next = i+j, i+j+1
	}
	if end > i && b[end-1] == '\r' {
		end--
	}
	return end, next
}

// parseStartLine fills the request or status line fields of m.
func parseStartLine(line []byte, m *Message) bool {
	const version = "sip/2.0"
	if len(line) > len(version) && equalFold(line[:len(version)], version) && isSpace(line[len(version)]) {
		i := len(version)
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if len(line)-i < 3 || (len(line)-i > 3 && !isSpace(line[i+3])) {
			return false
		}
		code := 0
		for _, c := range line[i : i+3] {
			if c < '0' || c > '9' {
				return false
			}
			code = code*10 + int(c-'0')
		}
		if code < 100 {
			return false
		}
		m.StatusCode, m.Status = code, line[i:i+3]
		return true
	}

	i := 0
	for i < len(line) && isToken(line[i]) {
		i++
	}
	if i == 0 || i == len(line) || !isSpace(line[i]) {
		return false
	}
	method := line[:i]
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	u := i
	for i < len(line) && !isSpace(line[i]) {
		i++
	}
	ruri := line[u:i]
	if len(ruri) == 0 || !equalFold(trimWS(line[i:]), version) {
		return false
	}
	m.IsRequest, m.Method, m.RequestURI = true, method, ruri
	m.RURIUser, m.RURIDomain, _ = uri(ruri)
	return true
}

// header extracts the fields of one header line (with its continuation
// lines, without the final line end).
func (p *Parser) header(line []byte, m *Message) {
	if isSpace(line[0]) {
		return // continuation without a header to continue
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return
	}
	name := line[:colon]
	for isSpace(name[len(name)-1]) { // name[0] is not a space
		name = name[:len(name)-1]
	}
	v := trimWS(line[colon+1:])

	if h := lookup(name); h != hNone && m.seen&h == 0 {
		m.seen |= h
		if !m.known(h, v) {
			m.seen &^= h // not taken: a later header of this kind may fill it
		}
	}

	if !p.configured(len(name)) {
		return
	}
	for i := range p.extra {
		if m.Extra[i] == nil && p.extra[i].match(name) {
			m.Extra[i] = v
		}
	}
	if len(v) > 0 {
		for i := range p.aleg {
			if m.alegRank != 0 && i+1 >= m.alegRank {
				break
			}
			if p.aleg[i].match(name) {
				m.ALeg, m.alegRank = v, i+1
				break
			}
		}
	}
}

// known stores the value v of header h. It reports false if the header
// carried nothing to take, so that a later one of the same kind is used.
func (m *Message) known(h hdr, v []byte) bool {
	switch h {
	case hVia:
		m.Via = v
		for i := 0; ; { // one pass over the top Via's parameters
			name, val, next, ok := nextParam(v, i)
			if !ok {
				break
			}
			switch {
			case m.ViaBranch == nil && equalFold(name, "branch"):
				m.ViaBranch = val
			case equalFold(name, "alias"):
				m.ViaAlias = true
			}
			i = next
		}
	case hFrom:
		addr, params := nameAddr(v)
		m.FromUser, m.FromDomain, _ = uri(addr)
		m.FromTag, _ = param(params, "tag")
	case hTo:
		addr, params := nameAddr(v)
		m.ToUser, m.ToDomain, _ = uri(addr)
		m.ToTag, _ = param(params, "tag")
	case hCallID:
		m.CallID = v
	case hCSeq:
		m.CSeq = v
		i := 0
		for i < len(v) && !isWS(v[i]) {
			i++
		}
		m.CSeqNum = cseqNum(v[:i])
		i = skipWS(v, i)
		j := i
		for j < len(v) && !isWS(v[j]) {
			j++
		}
		m.CSeqMethod = v[i:j]
	case hContact:
		addr, _ := nameAddr(v)
		m.ContactUser, m.ContactDomain, _ = uri(addr)
	case hPAI:
		addr, _ := nameAddr(v)
		user, _, ok := uri(addr)
		if !ok {
			user = v
		}
		m.PAIUser = user
	case hAuth:
		m.AuthUser = authParam(v, "username")
		return m.AuthUser != nil
	case hUserAgent:
		m.UserAgent = v
	case hServer:
		m.Server = v
	case hContentType:
		m.ContentType = v
	case hReason:
		m.Reason = v
	case hDiversion:
		m.Diversion = v
	case hExpires:
		m.Expires = v
	case hContentLength:
		m.ContentLength = contentLength(v)
	}
	return true
}

// cseqNum returns the decimal uint32 in b, or 0.
func cseqNum(b []byte) uint32 {
	if len(b) == 0 || len(b) > 10 {
		return 0
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-1 {
		return 0
	}
	return uint32(n)
}

// contentLength returns the decimal in b, or -1. Values of ten digits or
// more are rejected: no SIP message is that large, and it rules out overflow.
func contentLength(b []byte) int {
	if len(b) == 0 || len(b) > 9 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
