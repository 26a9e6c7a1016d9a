package sipframe

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// DefaultMax is the message size limit used when Options.Max is not
// positive: Kamailio's default tcp_rd_buf_size (16384) less the byte it
// reserves for a terminator.
const DefaultMax = 16383

// Options are the Kamailio parameters that change framing. They are read on
// every call, so a runtime change takes effect at the next message.
type Options struct {
	AcceptHEP3 bool // tcp_accept_hep3: "HEP3" at a boundary begins a HEP3 frame
	AcceptNoCL bool // tcp_accept_no_cl: a message without Content-Length ends after its headers
	CRLFPing   bool // tcp_crlf_ping: CRLFCRLF at a boundary is a Ping, else it is skipped
	// Max is the largest message in bytes, skipped leading bytes included
	// (§1.26). For Kamailio parity pass min(tcp_rd_buf_size-1,
	// msg_recv_max_size-1): 16383 with the defaults. Not positive means
	// DefaultMax.
	Max int
}

// Kind says what the bytes at a boundary are.
type Kind uint8

const (
	// Incomplete: more bytes are needed before anything can be said.
	Incomplete Kind = iota
	// Skip: N bytes of CR/LF/SP/HT before a message, to be dropped.
	Skip
	// Ping: a 4-byte CRLFCRLF keep-alive; the caller answers CRLF.
	Ping
	// HEP3: a complete HEP3 frame of N bytes.
	HEP3
	// SIP: a complete SIP message of N bytes.
	SIP
)

func (k Kind) String() string {
	switch k {
	case Incomplete:
		return "Incomplete"
	case Skip:
		return "Skip"
	case Ping:
		return "Ping"
	case HEP3:
		return "HEP3"
	case SIP:
		return "SIP"
	}
	return "Kind(?)"
}

// Result describes the bytes at the start of the buffer passed to Next.
type Result struct {
	Kind Kind
	N    int // bytes b[:N] form the result; 0 for Incomplete
	// HeaderLen is, for SIP, the length of the header block including the
	// empty line: the body is b[HeaderLen:N].
	HeaderLen int
	// ContentLength is, for SIP, the Content-Length used, or -1 when the
	// message had none (AcceptNoCL).
	ContentLength int
}

// Errors. Each means the stream cannot be framed any further: Kamailio
// closes the connection (§2.5).
var (
	// ErrTooLarge: the message (with the bytes skipped before it) is
	// larger than Options.Max.
	ErrTooLarge = errors.New("sipframe: message larger than the tcp_rd_buf_size limit")
	// ErrNoContentLength: the headers ended without a usable
	// Content-Length while AcceptNoCL is off.
	ErrNoContentLength = errors.New("sipframe: content length not present or unparsable (tcp_accept_no_cl=no)")
	// ErrBadContentLength: a Content-Length value overflows (Kamailio: "large
	// Content-Length"). It also matches, together with ErrNoContentLength,
	// when the headers ended with only unusable Content-Length values
	// ("12a", "abc", "-1", empty) while AcceptNoCL is off.
	ErrBadContentLength = errors.New("sipframe: bad Content-Length")
	// ErrBadHEP3Length: a HEP3 total length below the 6-byte header. A
	// length above Max returns an error matching both this and ErrTooLarge.
	ErrBadHEP3Length = errors.New("sipframe: bad HEP3 length")
)

// twoErr is an error that matches two sentinels; package-level values of it
// are immutable.
type twoErr struct {
	msg  string
	a, b error
}

func (e *twoErr) Error() string        { return e.msg }
func (e *twoErr) Is(target error) bool { return target == e.a || target == e.b }

var (
	errHEP3TooLarge = &twoErr{"sipframe: HEP3 length larger than the tcp_rd_buf_size limit", ErrBadHEP3Length, ErrTooLarge}
	errCLUnusable   = &twoErr{"sipframe: Content-Length value unusable (tcp_accept_no_cl=no)", ErrBadContentLength, ErrNoContentLength}
)

// state is where the scan stands; the names follow Kamailio's H_* states.
type state uint8

const (
	stEmpty   state = iota // H_SKIP_EMPTY: at a boundary
	stCR                   // H_SKIP_EMPTY_CR_FOUND
	stCRLF                 // H_SKIP_EMPTY_CRLF_FOUND
	stCRLFCR               // H_SKIP_EMPTY_CRLFCR_FOUND
	stStartWS              // H_STARTWS: at a line start (also message start)
	stSkip                 // H_SKIP: not interested until LF
	stLF                   // H_LF: just after an LF
	stLFCR                 // H_LFCR
	stName                 // H_CONT_LEN1..13: inside "content-length"
	stColon                // H_L_COLON
	stValue                // H_CONT_LEN_BODY
	stDigits               // H_CONT_LEN_BODY_PARSE
	stBody                 // H_BODY
)

const clName = "content-length"

// clOverflow is Kamailio's INT_MAX/10 guard: a value that reaches it before
// another digit is added is "too large" and closes the connection.
const clOverflow = 214748364

// Scanner is Next with memory: it remembers how far it has looked into the
// current message, so a message trickling in is scanned once in total, not
// once per call. The zero value is ready. The caller passes the whole
// pending buffer, starting at the current boundary, on every call; after a
// result other than Incomplete it drops b[:r.N] and the Scanner is already
// at the next boundary, so no Reset is needed between messages. Reset is
// for a new stream; calling it after a complete message is harmless, but
// after a Skip it forgets that the skipped bytes count against Max.
type Scanner struct {
	st     state
	off    int // bytes of b examined so far
	idx    int // stName: index into clName of the next byte expected
	cl     int
	hasCL  bool // F_TCP_REQ_HAS_CLEN: a usable Content-Length was seen
	badCL  bool // a Content-Length header with an unusable value was seen
	hdrLen int  // stBody: header block length
	lead   int  // bytes skipped before the current message (count against Max)

	scanned int // bytes examined over the Scanner's life; tests prove O(n) with it
}

// Reset returns s to the start of a stream.
func (s *Scanner) Reset() { *s = Scanner{scanned: s.scanned} }

// Next inspects b, which starts at a message boundary, as Scanner.Next does
// for a Scanner that has not seen any of these bytes before.
func Next(b []byte, o Options) (Result, error) {
	var s Scanner
	return s.Next(b, o)
}

// Next inspects the pending buffer b, which starts at a message boundary and
// extends the bytes passed on the previous call, if that call returned
// Incomplete.
func (s *Scanner) Next(b []byte, o Options) (Result, error) {
	if s.off > len(b) {
		// The caller broke the contract (passed fewer bytes than before):
		// rescan rather than index out of range.
		s.Reset()
	}
	limit := o.Max
	if limit <= 0 {
		limit = DefaultMax
	}
	start := s.off
	r, err := s.next(b, o, limit)
	s.scanned += s.off - start
	if err != nil {
		s.Reset()
		return Result{}, err
	}
	if r.Kind != Incomplete {
		lead := s.lead
		s.Reset()
		if r.Kind == Skip {
			s.lead = lead + r.N
		}
	}
	return r, nil
}

func (s *Scanner) next(b []byte, o Options, limit int) (Result, error) {
	if s.st <= stCRLFCR {
		if r, done := s.boundary(b, o); done {
			return r, nil
		}
		if o.AcceptHEP3 && b[0] == 'H' {
			if r, isHEP3, err := hep3(b, limit); isHEP3 {
				return r, err
			}
		}
		s.st = stStartWS // the message start is a line start
	}
	if s.st == stBody {
		return s.body(b)
	}
	// Only headers that can still fit are scanned: the work per message is
	// bounded by Max even when b holds more.
	room := limit - s.lead
	end := min(len(b), max(room, 0))
	i := s.off
	for i < end {
		c := b[i]
		switch s.st {
		case stSkip:
			j := bytes.IndexByte(b[i:end], '\n')
			if j < 0 {
				i = end
				continue
			}
			i += j + 1
			s.st = stLF
			continue
		case stLF:
			switch c {
			case '\r':
				s.st = stLFCR
			case '\n':
				s.off = i + 1
				return s.headersEnd(b, o, limit)
			default:
				s.lineStart(c)
			}
		case stLFCR:
			if c == '\n' {
				s.off = i + 1
				return s.headersEnd(b, o, limit)
			}
			s.st = stSkip
		case stStartWS:
			if c == '\n' {
				s.st = stLF
			} else {
				s.lineStart(c)
			}
		case stName:
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			switch {
			case c == clName[s.idx] || s.idx == 7 && c == '_': // Content_Length too
				s.idx++
				if s.idx == len(clName) {
					s.st = stColon
				}
			case c == '\n':
				s.st = stLF
			default:
				s.st = stSkip
			}
		case stColon:
			switch c {
			case ' ', '\t':
			case ':':
				s.st = stValue
			case '\n':
				s.st = stLF
			default:
				s.st = stSkip
			}
		case stValue:
			switch {
			case c == ' ' || c == '\t':
			case '0' <= c && c <= '9':
				s.cl = int(c - '0')
				s.st = stDigits
			case c == '\n':
				s.badCL = true
				s.st = stLF
			default: // "abc", "-1", or a CR of an empty value: absent
				s.badCL = true
				s.st = stSkip
			}
		case stDigits:
			switch {
			case '0' <= c && c <= '9':
				if s.cl >= clOverflow {
					return Result{}, ErrBadContentLength
				}
				s.cl = s.cl*10 + int(c-'0')
			case c == '\r' || c == ' ' || c == '\t': // "12 x" means 12
				s.hasCL = true
				s.st = stSkip
			case c == '\n':
				s.hasCL = true
				s.st = stLF
			default: // "12a": Kamailio logs and treats the header as absent
				s.badCL = true
				s.st = stSkip
			}
		}
		i++
	}
	s.off = i
	if len(b) >= room {
		return Result{}, ErrTooLarge
	}
	return Result{}, nil
}

// boundary runs the leading-byte states (§2.2). It reports done with a
// Skip, Ping or Incomplete result, or not done with b[0] starting a message.
func (s *Scanner) boundary(b []byte, o Options) (Result, bool) {
	i := s.off
	for ; i < len(b); i++ {
		c := b[i]
		switch s.st {
		case stEmpty:
			switch c {
			case '\n', ' ', '\t':
				continue
			case '\r':
				if !o.CRLFPing {
					continue
				}
				if i > 0 {
					// Hand back what is surely skipped; the ping
					// candidate starts the next call at offset 0.
					s.off = i
					return Result{Kind: Skip, N: i}, true
				}
				s.st = stCR
				continue
			}
			if i > 0 {
				s.off = i
				return Result{Kind: Skip, N: i}, true
			}
			s.off = 0
			return Result{}, false
		case stCR:
			if c == '\n' {
				s.st = stCRLF
				continue
			}
		case stCRLF:
			if c == '\r' {
				s.st = stCRLFCR
				continue
			}
		case stCRLFCR:
			if c == '\n' {
				s.off = i + 1
				return Result{Kind: Ping, N: 4}, true
			}
		}
		// The sequence broke: Kamailio re-examines the breaking byte as a
		// boundary byte, so a lone CRLF before a message is skipped.
		s.st = stEmpty
		i--
	}
	s.off = i
	if s.st == stEmpty && i > 0 {
		return Result{Kind: Skip, N: i}, true
	}
	return Result{}, true // empty, or a ping candidate that may complete
}

// hep3 frames a HEP3 frame at b[0] (§3.2). isHEP3 is false when b cannot
// begin "HEP3"; while fewer than 6 bytes are there it waits rather than
// falling back to SIP as Kamailio does (§11.2).
func hep3(b []byte, limit int) (r Result, isHEP3 bool, err error) {
	const magic = "HEP3"
	if m := min(len(b), len(magic)); string(b[:m]) != magic[:m] {
		return Result{}, false, nil
	}
	if len(b) < 6 {
		return Result{}, true, nil
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	switch {
	case n < 6:
		return Result{}, true, ErrBadHEP3Length
	case n > limit:
		return Result{}, true, errHEP3TooLarge
	case len(b) < n:
		return Result{}, true, nil
	}
	return Result{Kind: HEP3, N: n}, true, nil
}

// lineStart is Kamailio's content_len_beg_case plus the default: at a line
// start, SP/HT keep looking (so a continuation line can carry
// Content-Length, a quirk kept on purpose), C and L may begin the name.
func (s *Scanner) lineStart(c byte) {
	switch {
	case s.hasCL:
		s.st = stSkip // the first usable Content-Length wins
	case c == ' ' || c == '\t':
		s.st = stStartWS
	case c == 'c' || c == 'C':
		s.st, s.idx = stName, 1
	case c == 'l' || c == 'L':
		s.st = stColon
	default:
		s.st = stSkip
	}
}

// headersEnd runs at the empty line; s.off is the header block length.
func (s *Scanner) headersEnd(b []byte, o Options, limit int) (Result, error) {
	s.hdrLen = s.off
	if !s.hasCL {
		if !o.AcceptNoCL {
			if s.badCL {
				return Result{}, errCLUnusable
			}
			return Result{}, ErrNoContentLength
		}
		// Kamailio: the message ends at the blank line; any intended body
		// becomes the start of the next message.
		return Result{Kind: SIP, N: s.hdrLen, HeaderLen: s.hdrLen, ContentLength: -1}, nil
	}
	if s.lead+s.hdrLen+s.cl > limit {
		return Result{}, ErrTooLarge
	}
	s.st = stBody
	return s.body(b)
}

func (s *Scanner) body(b []byte) (Result, error) {
	n := s.hdrLen + s.cl
	if len(b) < n {
		s.off = len(b)
		return Result{}, nil
	}
	s.off = n
	return Result{Kind: SIP, N: n, HeaderLen: s.hdrLen, ContentLength: s.cl}, nil
}
