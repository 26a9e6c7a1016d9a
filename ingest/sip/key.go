package sip

import "strconv"

// Key names one Homer 7 data_header key for SIP. The zero Key is invalid.
type Key uint8

// The data_header keys, in the order of the Homer 7 documentation.
const (
	KeyMethod        Key = iota + 1 // "method": request method, or the status code of a response
	KeyCSeq                         // "cseq": the whole CSeq value
	KeyCallID                       // "callid"
	KeyCallIDALeg                   // "callid_aleg": value of the first configured A-leg header
	KeyRURIUser                     // "ruri_user"
	KeyRURIDomain                   // "ruri_domain"
	KeyFromUser                     // "from_user"
	KeyFromDomain                   // "from_domain"
	KeyFromTag                      // "from_tag"
	KeyToUser                       // "to_user"
	KeyToDomain                     // "to_domain"
	KeyToTag                        // "to_tag"
	KeyContactUser                  // "contact_user"
	KeyContactDomain                // "contact_domain"
	KeyPIDUser                      // "pid_user": P-Asserted-Identity user
	KeyAuthUser                     // "auth_user": username of (Proxy-)Authorization
	KeyUserAgent                    // "user_agent"
	KeyServer                       // "server"
	KeyContentType                  // "content_type"
	KeyReason                       // "reason"
	KeyDiversion                    // "diversion"
	KeyExpires                      // "expires"
	KeyVia                          // "via": the first Via header value

	numKeys = iota + 1 // one past the last valid Key
)

// String returns the JSON key Homer uses, such as "ruri_user".
func (k Key) String() string {
	switch k {
	case KeyMethod:
		return "method"
	case KeyCSeq:
		return "cseq"
	case KeyCallID:
		return "callid"
	case KeyCallIDALeg:
		return "callid_aleg"
	case KeyRURIUser:
		return "ruri_user"
	case KeyRURIDomain:
		return "ruri_domain"
	case KeyFromUser:
		return "from_user"
	case KeyFromDomain:
		return "from_domain"
	case KeyFromTag:
		return "from_tag"
	case KeyToUser:
		return "to_user"
	case KeyToDomain:
		return "to_domain"
	case KeyToTag:
		return "to_tag"
	case KeyContactUser:
		return "contact_user"
	case KeyContactDomain:
		return "contact_domain"
	case KeyPIDUser:
		return "pid_user"
	case KeyAuthUser:
		return "auth_user"
	case KeyUserAgent:
		return "user_agent"
	case KeyServer:
		return "server"
	case KeyContentType:
		return "content_type"
	case KeyReason:
		return "reason"
	case KeyDiversion:
		return "diversion"
	case KeyExpires:
		return "expires"
	case KeyVia:
		return "via"
	}
	return "sip.Key(" + strconv.Itoa(int(k)) + ")"
}

// ParseKey returns the Key whose JSON name is s. Names are case-sensitive,
// as they are in Homer's configuration.
func ParseKey(s string) (Key, bool) {
	for k := Key(1); k < numKeys; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// DefaultKeys returns Homer's default data_header key list, in Homer's order.
// It is what heplify-server uses when its SIPHeader setting is empty.
// Each call returns a new slice.
func DefaultKeys() []Key {
	return []Key{
		KeyRURIUser, KeyRURIDomain,
		KeyFromUser, KeyFromTag,
		KeyToUser, KeyToTag,
		KeyCallID, KeyCSeq, KeyMethod, KeyUserAgent,
	}
}
