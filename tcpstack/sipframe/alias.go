package sipframe

import (
	"bytes"
	"strings"

	"github.com/hepd/hepd/internal/digits"
)

// defaultAliasPort is what Kamailio records when the top Via has no port.
// It picks it from the protocol of the connection that carried the request
// (tcpconn_add_alias: 5061 on a TLS connection, 5060 otherwise), not from
// the Via's transport; hepd has no TLS listeners, so it is always 5060.
const defaultAliasPort = 5060

// TopViaAlias reports whether msg, a complete SIP message as cut by Next, is
// a request whose top-most Via carries an "alias" parameter
// (tcp_accept_aliases, §5.2), and if so the Via's sent-by port, 5060 when
// the Via gives none. Responses never qualify. Only the first via-parm of
// the first Via header counts; the parameter's value is irrelevant and its
// name is matched case-insensitively.
func TopViaAlias(msg []byte) (port uint16, ok bool) {
	if bytes.HasPrefix(msg, []byte("SIP/")) {
		return 0, false // a response
	}
	// Skip the request line.
	nl := bytes.IndexByte(msg, '\n')
	if nl < 0 {
		return 0, false
	}
	for p := nl + 1; p < len(msg); {
		line := msg[p:]
		e := bytes.IndexByte(line, '\n')
		if e < 0 {
			e = len(line)
		}
		if e == 0 || e == 1 && line[0] == '\r' {
			return 0, false // end of headers without a Via
		}
		if v, isVia := viaValue(line[:e]); isVia {
			// The value may continue on folded lines: hand the parser
			// everything up to the end of the headers.
			return parseVia(msg[p+len(line[:e])-len(v):])
		}
		p += e + 1
	}
	return 0, false
}

// viaValue returns what follows "Via:" or "v:" on a header line.
func viaValue(line []byte) ([]byte, bool) {
	var n int
	switch {
	case len(line) >= 3 && (line[0]|0x20) == 'v' && (line[1]|0x20) == 'i' && (line[2]|0x20) == 'a':
		n = 3
	case len(line) >= 1 && (line[0]|0x20) == 'v':
		n = 1
	default:
		return nil, false
	}
	rest := skipWS(line[n:])
	if len(rest) == 0 || rest[0] != ':' {
		return nil, false
	}
	return rest[1:], true
}

// viaCursor walks a Via value, treating folded line ends (CRLF or LF
// followed by SP/HT) as whitespace, as RFC 3261 LWS allows.
type viaCursor struct{ b []byte }

func (c *viaCursor) skipLWS() {
	for {
		c.b = skipWS(c.b)
		b := c.b
		if len(b) > 0 && b[0] == '\r' {
			b = b[1:]
		}
		if len(b) >= 2 && b[0] == '\n' && (b[1] == ' ' || b[1] == '\t') {
			c.b = b[1:]
			continue
		}
		return
	}
}

// token returns the bytes up to the first byte in stop, CR, LF, SP or HT.
func (c *viaCursor) token(stop string) []byte {
	i := 0
	for i < len(c.b) {
		if ch := c.b[i]; ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t' || strings.IndexByte(stop, ch) >= 0 {
			break
		}
		i++
	}
	t := c.b[:i]
	c.b = c.b[i:]
	return t
}

func (c *viaCursor) expect(ch byte) bool {
	c.skipLWS()
	if len(c.b) == 0 || c.b[0] != ch {
		return false
	}
	c.b = c.b[1:]
	c.skipLWS()
	return true
}

// parseVia parses "SIP / 2.0 / TCP host[:port] *( ; param )" and reports
// the port if an alias parameter is present.
func parseVia(v []byte) (uint16, bool) {
	c := viaCursor{v}
	c.skipLWS()
	if len(c.token("/")) == 0 || !c.expect('/') || len(c.token("/")) == 0 || !c.expect('/') ||
		len(c.token(";,")) == 0 {
		return 0, false
	}
	c.skipLWS()
	// sent-by: host, [IPv6] or host:port
	host := c.b
	if len(host) > 0 && host[0] == '[' {
		end := bytes.IndexByte(host, ']')
		if end < 0 {
			return 0, false
		}
		c.b = host[end+1:]
	} else {
		c.token(":;,")
	}
	port := uint16(0)
	c.skipLWS()
	if len(c.b) > 0 && c.b[0] == ':' {
		c.b = c.b[1:]
		c.skipLWS()
		num := c.token(";,")
		p, okPort := digits.Port(num)
		if !okPort {
			return 0, false
		}
		port = p
	}
	alias := false
	for {
		c.skipLWS()
		if len(c.b) == 0 || c.b[0] != ';' {
			break
		}
		c.b = c.b[1:]
		c.skipLWS()
		name := c.token("=;,")
		if bytes.EqualFold(name, []byte("alias")) {
			alias = true
		}
		c.skipLWS()
		if len(c.b) > 0 && c.b[0] == '=' {
			c.b = c.b[1:]
			c.skipLWS()
			if len(c.b) > 0 && c.b[0] == '"' {
				end := bytes.IndexByte(c.b[1:], '"')
				if end < 0 {
					return 0, false
				}
				c.b = c.b[end+2:]
			} else {
				c.token(";,")
			}
		}
	}
	if !alias {
		return 0, false
	}
	if port == 0 {
		port = defaultAliasPort
	}
	return port, true
}

func skipWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
