package sip

// MaxExtraHeaders is the number of extra headers a Parser can capture, and
// MaxALegHeaders the number of A-leg headers it searches. The limits keep a
// Message fixed-size (no allocation) and bound the work per header line.
const (
	MaxExtraHeaders = 16
	MaxALegHeaders  = 16
)

// Message holds the fields Parse extracted from one SIP message. Every slice
// is a sub-slice of the parsed buffer; nil means absent. A Message is meant
// to be reused: Parse resets it first.
type Message struct {
	IsRequest  bool
	Method     []byte // request method; nil for responses
	RequestURI []byte // Request-URI as written; nil for responses
	StatusCode int    // response status code (100-999); 0 for requests
	Status     []byte // the three status-code digits; nil for requests

	RURIUser, RURIDomain []byte // Request-URI user and host

	FromUser, FromDomain, FromTag []byte
	ToUser, ToDomain, ToTag       []byte

	CallID     []byte
	CSeq       []byte // the whole CSeq value, "314159 INVITE"
	CSeqNum    uint32 // the CSeq number; 0 if it is not a decimal uint32
	CSeqMethod []byte

	ContactUser, ContactDomain []byte // first Contact URI

	PAIUser  []byte // P-Asserted-Identity user, or the whole value if it holds no sip:/sips:/tel: URI
	AuthUser []byte // username of the first Authorization or Proxy-Authorization carrying one

	UserAgent   []byte
	Server      []byte
	ContentType []byte
	Reason      []byte
	Diversion   []byte
	Expires     []byte

	Via       []byte // the whole first Via header value
	ViaBranch []byte // branch parameter of the top Via
	ViaAlias  bool   // the top Via has an alias parameter (RFC 5923)

	ALeg []byte // value of the first configured A-leg header present

	// Extra[i] is the value of Options.ExtraHeaders[i]; nil if absent.
	Extra [MaxExtraHeaders][]byte

	ContentLength int    // Content-Length value; -1 if absent or not a number
	Body          []byte // bytes after the empty line, cut to ContentLength when it fits
	HeaderLen     int    // bytes up to and including the empty line; len(buffer) if there is none

	// Clean reports whether the message is valid UTF-8 without NUL bytes,
	// as a PostgreSQL text column takes it: Parse finds it out in the
	// pass that finds the line ends, so that a caller storing the message
	// as text need not check it again.
	Clean bool

	seen     hdr // hdr bits of once-only headers already taken
	alegRank int // 1 + index in Options.ALegHeaders of ALeg's header; 0 if none
}

// Field returns the value Homer stores under key k. For KeyMethod that is
// the request method, or the status-code digits for a response. It returns
// nil for an invalid key and for absent values.
func (m *Message) Field(k Key) []byte {
	switch k {
	case KeyMethod:
		if m.IsRequest {
			return m.Method
		}
		return m.Status
	case KeyCSeq:
		return m.CSeq
	case KeyCallID:
		return m.CallID
	case KeyCallIDALeg:
		return m.ALeg
	case KeyRURIUser:
		return m.RURIUser
	case KeyRURIDomain:
		return m.RURIDomain
	case KeyFromUser:
		return m.FromUser
	case KeyFromDomain:
		return m.FromDomain
	case KeyFromTag:
		return m.FromTag
	case KeyToUser:
		return m.ToUser
	case KeyToDomain:
		return m.ToDomain
	case KeyToTag:
		return m.ToTag
	case KeyContactUser:
		return m.ContactUser
	case KeyContactDomain:
		return m.ContactDomain
	case KeyPIDUser:
		return m.PAIUser
	case KeyAuthUser:
		return m.AuthUser
	case KeyUserAgent:
		return m.UserAgent
	case KeyServer:
		return m.Server
	case KeyContentType:
		return m.ContentType
	case KeyReason:
		return m.Reason
	case KeyDiversion:
		return m.Diversion
	case KeyExpires:
		return m.Expires
	case KeyVia:
		return m.Via
	}
	return nil
}
