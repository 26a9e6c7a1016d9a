package sip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
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

	anyConfigured bool // there are extra or A-leg headers
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
	p := &Parser{extra: extra, aleg: aleg, anyConfigured: len(extra)+len(aleg) > 0}
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

// headerAt classifies the header whose name starts the line at b[i],
// ignoring case: it returns the header and the length of its name, or hNone
// and 0 for a header Parse does not extract. The name must end where a
// token does. It dispatches on the first byte and compares whole words
// rather than scanning the name and then looking it up: most lines are
// one of these headers, and the others need no name at all unless extra or
// A-leg headers are configured. b must have nameRoom bytes from i on (see
// headerAtEnd).
func headerAt(b []byte, i int) (hdr, int) {
	var cands []headerWord
	switch b[i] | 0x20 { // exact for letters, which all these names start with
	case 'c':
		cands = hwC
	case 'v':
		cands = hwV
	case 'f':
		cands = hwF
	case 't':
		cands = hwT
	case 'i':
		cands = hwI
	case 'm':
		cands = hwM
	case 'l':
		cands = hwL
	case 's':
		cands = hwS
	case 'r':
		cands = hwR
	case 'e':
		cands = hwE
	case 'd':
		cands = hwD
	case 'u':
		cands = hwU
	case 'a':
		cands = hwA
	case 'p':
		cands = hwP
	default:
		return hNone, 0
	}
	// Most candidates differ from the line within the first word.
	w0 := binary.LittleEndian.Uint64(b[i:])
	for k := range cands {
		c := &cands[k]
		if (w0|c.fold[0])&c.m[0] != c.w[0] || tokenByte[b[i+c.n]] {
			continue
		}
		if c.n <= 8 || c.rest(b, i) {
			return c.h, c.n
		}
	}
	return hNone, 0
}

// nameRoom is the room after a line's start headerAt needs: it reads the
// line's first words whole.
const nameRoom = 8 * len(headerWord{}.w)

// headerAtEnd is headerAt for a line that starts less than nameRoom bytes
// before the end of b (the last lines of a message without a body): the
// words are read from a copy padded with zeros, which no name has and
// which cannot continue a token, so a name may end where b does.
func headerAtEnd(b []byte, i int) (hdr, int) {
	var pad [nameRoom]byte
	copy(pad[:], b[i:])
	return headerAt(pad[:], 0)
}

// headerWord is a header name prepared for comparing eight bytes at a time:
// w holds it in lower case, fold has 0x20 in the bytes that are letters (so
// b|fold == w ignores the case of letters only: '-' must not match CR), mask
// covers its bytes. Words are little-endian, padded with zeros.
type headerWord struct {
	h          hdr
	n          int
	w, fold, m [3]uint64
}

func newHeaderWord(name string, h hdr) headerWord {
	hw := headerWord{h: h, n: len(name)}
	for j := 0; j < len(name); j++ {
		shift := 8 * uint(j%8)
		hw.w[j/8] |= uint64(name[j]) << shift
		hw.m[j/8] |= 0xff << shift
		if 'a' <= name[j] && name[j] <= 'z' {
			hw.fold[j/8] |= 0x20 << shift
		}
	}
	return hw
}

// rest reports whether the bytes of the name after its first word match,
// in any case; b[i:] has room for all its words.
func (hw *headerWord) rest(b []byte, i int) bool {
	for j := 1; j*8 < hw.n; j++ {
		if (binary.LittleEndian.Uint64(b[i+8*j:])|hw.fold[j])&hw.m[j] != hw.w[j] {
			return false
		}
	}
	return true
}

// The candidates per first letter, in the order they are tried; compact
// forms (one letter) are among them.
var (
	hwC = headerWords("call-id", hCallID, "cseq", hCSeq, "contact", hContact,
		"content-type", hContentType, "content-length", hContentLength, "c", hContentType)
	hwV = headerWords("via", hVia, "v", hVia)
	hwF = headerWords("from", hFrom, "f", hFrom)
	hwT = headerWords("to", hTo, "t", hTo)
	hwI = headerWords("i", hCallID)
	hwM = headerWords("m", hContact)
	hwL = headerWords("l", hContentLength)
	hwS = headerWords("server", hServer)
	hwR = headerWords("reason", hReason)
	hwE = headerWords("expires", hExpires)
	hwD = headerWords("diversion", hDiversion)
	hwU = headerWords("user-agent", hUserAgent)
	hwA = headerWords("authorization", hAuth)
	hwP = headerWords("p-asserted-identity", hPAI, "proxy-authorization", hAuth)
)

// headerWords takes name, hdr pairs.
func headerWords(pairs ...any) []headerWord {
	var hs []headerWord
	for i := 0; i < len(pairs); i += 2 {
		hs = append(hs, newHeaderWord(pairs[i].(string), pairs[i+1].(hdr)))
	}
	return hs
}

// Parse resets m and fills it from the SIP message in b. It returns
// ErrTooShort for 32 bytes or less, ErrStartLine if the first line is
// neither a request line nor a status line, ErrNoCallID and ErrNoCSeq when
// the message cannot be stored by Homer, checked in that order. Empty lines
// before the start line are skipped (RFC 3261 §7.5). On error m holds what
// was parsed so far. Parse never allocates.
func (p *Parser) Parse(b []byte, m *Message) error {
	return p.parse(b, m, wantAll)
}

// ParseKeys is Parse for a caller that needs only the values of keys, as
// the ingest pipeline does for its data_header: it fills the start line,
// Call-ID, CSeq, ALeg, Extra and the fields behind keys exactly as Parse
// does, and skips the work only other fields take (the Contact URI, the
// top Via's parameters, …), leaving them nil. It does not look for the
// body: ContentLength stays -1, Body nil and HeaderLen 0. Without extra or
// A-leg headers configured, it stops reading header lines once every header
// it needs has been seen. Its errors are Parse's, for the same reasons.
func (p *Parser) ParseKeys(b []byte, m *Message, keys []Key) error {
	return p.ParseKeySet(b, m, NewKeySet(keys))
}

// A KeySet is what ParseKeys works out from its keys, for a caller that
// parses many messages for the same keys.
type KeySet struct{ need want }

// NewKeySet returns the KeySet of keys.
func NewKeySet(keys []Key) KeySet {
	need := wantCallID
	for _, k := range keys {
		if k < numKeys {
			need |= keyWants[k]
		}
	}
	return KeySet{need}
}

// ParseKeySet is ParseKeys(b, m, keys) for ks = NewKeySet(keys).
func (p *Parser) ParseKeySet(b []byte, m *Message, ks KeySet) error {
	return p.parse(b, m, ks.need)
}

// want says what parse must fill: the hdr bits of the headers to extract
// and, above them, work that is not one header.
type want = hdr

const (
	wantRURI      want = 1 << 24 // Request-URI user and host
	wantViaParams want = 1 << 25 // ViaBranch and ViaAlias
	wantBody      want = 1 << 26 // ContentLength, Body and HeaderLen
	wantHeaders   want = wantRURI - 1

	wantCallID = hCallID | hCSeq // always: Parse's errors depend on them
	wantAll    = wantHeaders | wantRURI | wantViaParams | wantBody
)

// keyWants is what each Key needs parsed.
var keyWants = [numKeys]want{
	KeyCSeq:          hCSeq,
	KeyCallID:        hCallID,
	KeyRURIUser:      wantRURI,
	KeyRURIDomain:    wantRURI,
	KeyFromUser:      hFrom,
	KeyFromDomain:    hFrom,
	KeyFromTag:       hFrom,
	KeyToUser:        hTo,
	KeyToDomain:      hTo,
	KeyToTag:         hTo,
	KeyContactUser:   hContact,
	KeyContactDomain: hContact,
	KeyPIDUser:       hPAI,
	KeyAuthUser:      hAuth,
	KeyUserAgent:     hUserAgent,
	KeyServer:        hServer,
	KeyContentType:   hContentType,
	KeyReason:        hReason,
	KeyDiversion:     hDiversion,
	KeyExpires:       hExpires,
	KeyVia:           hVia,
}

func (p *Parser) parse(b []byte, m *Message, need want) error {
	*m = Message{ContentLength: -1, HeaderLen: len(b)}
	if need&wantBody == 0 {
		m.HeaderLen = 0
	}
	var lm lineMap
	m.Clean = lm.scan(b)
	if len(b) < minLen {
		return ErrTooShort
	}

	pos := 0
	for pos < len(b) && (b[pos] == '\r' || b[pos] == '\n') {
		pos++
	}
	end, next := lm.nextLine(b, pos)
	if !parseStartLine(b[pos:end], m, need&wantRURI != 0) {
		return ErrStartLine
	}

	// Once every wanted header has been seen, later lines can change
	// nothing, unless they may be an extra or A-leg header or the body is
	// wanted.
	stop := need & wantHeaders
	if need&wantBody != 0 || len(p.extra) > 0 || len(p.aleg) > 0 {
		stop = ^hdr(0)
	}
	// Without the body or configured headers wanted, a line whose header is
	// not wanted only tells where the next one starts.
	skip := need&wantBody == 0 && !p.anyConfigured
	for pos = next; pos < len(b); pos = next {
		// A header name is a token followed by optional blanks and the
		// colon. Only the extracted headers are recognised by headerAt;
		// with extra or A-leg headers configured, any other name is
		// scanned so that they can be matched. A line not shaped so (a
		// stray continuation line, a name with other bytes in it) names
		// no header that can match, so it is only skipped.
		var h hdr
		var n int
		if len(b)-pos >= nameRoom {
			h, n = headerAt(b, pos)
		} else {
			h, n = headerAtEnd(b, pos)
		}
		if skip && h&need == 0 {
			j := pos + bits.TrailingZeros64(lm.word(pos))
			if j-pos == 64 {
				j = lm.indexAfter(b, pos)
			}
			if j < 0 || j == pos || j == pos+1 && b[pos] == '\r' {
				break // the last line, or the empty line
			}
			for next = j + 1; next < len(b) && isSpace(b[next]); {
				_, next = lm.nextLine(b, next) // a continuation line
			}
			continue
		}
		i := pos + n
		if h == hNone && p.anyConfigured {
			for i < len(b) && tokenByte[b[i]] {
				i++
			}
		}
		nameEnd := i
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		// lm.nextLine(b, i), written out: every line takes it, and the
		// call cannot be inlined.
		end, next = len(b), len(b)
		j := i + bits.TrailingZeros64(lm.word(i))
		if j-i == 64 {
			j = lm.indexAfter(b, i)
		}
		if j >= 0 {
			end, next = j, j+1
		}
		if end > i && b[end-1] == '\r' {
			end--
		}
		if end == pos {
			if need&wantBody != 0 {
				m.HeaderLen = next
				body := b[next:]
				if m.ContentLength >= 0 && m.ContentLength <= len(body) {
					body = body[:m.ContentLength]
				}
				m.Body = body
			}
			break
		}
		// Continuation lines (starting with SP or HTAB) belong to this header.
		for next < len(b) && isSpace(b[next]) {
			end, next = lm.nextLine(b, next)
		}
		if nameEnd == pos || i == len(b) || b[i] != ':' || h&need == 0 && !p.anyConfigured {
			continue
		}
		v := trimWS(b[i+1 : end])
		if h&need != 0 && m.seen&h == 0 {
			m.seen |= h
			if !m.known(h, v, need) {
				m.seen &^= h // not taken: a later header of this kind may fill it
			}
		}
		if p.anyConfigured {
			p.configuredHeader(b[pos:nameEnd], v, m)
		}
		if m.seen&stop == stop {
			break
		}
	}

	if len(m.CallID) == 0 {
		return ErrNoCallID
	}
	if len(m.CSeqMethod) < 3 {
		return ErrNoCSeq
	}
	return nil
}

// parseStartLine fills the request or status line fields of m; the
// Request-URI's user and host only if ruri is set.
func parseStartLine(line []byte, m *Message, ruri bool) bool {
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
	for i < len(line) && tokenByte[line[i]] {
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
	i = indexBlank(line, i)
	reqURI := line[u:i]
	// " SIP/2.0" as almost every request writes it, or any spelling.
	if len(reqURI) == 0 || string(line[i:]) != " SIP/2.0" && !equalFold(trimWS(line[i:]), version) {
		return false
	}
	m.IsRequest, m.Method, m.RequestURI = true, method, reqURI
	if ruri {
		m.RURIUser, m.RURIDomain, _ = uri(reqURI)
	}
	return true
}

// configuredHeader matches a header against the configured extra and A-leg
// headers: name is its name, v its value without the surrounding blanks
// (a folded value keeps its line breaks).
func (p *Parser) configuredHeader(name, v []byte, m *Message) {
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
func (m *Message) known(h hdr, v []byte, need want) bool {
	switch h {
	case hVia:
		m.Via = v
		for i := 0; need&wantViaParams != 0; { // one pass over the top Via's parameters
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
