package main

import (
	"crypto/md5"
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"

	"github.com/hepd/hepd/hep"
)

const (
	domain    = "example.com"
	userAgent = "hepgen/1.0"
	sipPort   = 5060
	sipSecret = "secret" // digest password of every generated user
)

// generator builds the HEP3 frames of synthetic SIP traffic. It reuses its
// buffers, so building a message does not allocate once they have grown.
// A generator is not safe for concurrent use.
type generator struct {
	prefix   string // Call-ID prefix, distinguishes runs
	nodeID   uint32
	nodeName []byte
	password []byte // HEP auth key
	now      func() time.Time

	sip, body, scratch []byte
	pkt                hep.Packet
}

// unit identifies one call, registration or options ping.
type unit struct {
	kind kind
	n    int // index within its kind
}

// hosts are the addresses of one unit: only bytes inside HEP, nothing is
// sent to them.
type hosts struct {
	ua, proxy, uas netip.Addr
	uaPort         uint16
}

func hostsOf(u unit) hosts {
	n := u.n + int(u.kind)*7919 // spread kinds over different hosts
	return hosts{
		ua:     netip.AddrFrom4([4]byte{10, 1, byte(n / 200 % 4), byte(n%200 + 1)}),
		proxy:  netip.AddrFrom4([4]byte{10, 0, 0, byte(n%3 + 1)}),
		uas:    netip.AddrFrom4([4]byte{10, 2, 0, byte(n%20 + 1)}),
		uaPort: uint16(5060 + n%4*1000), // 5060, 6060, 7060, 8060
	}
}

// appendMessage appends the HEP3 frame of message i of unit u to dst and
// returns it with what the message counts as.
func (g *generator) appendMessage(dst []byte, u unit, i int) ([]byte, label) {
	h := hostsOf(u)
	var l label
	var src, dst4 netip.Addr
	var sport, dport uint16
	switch u.kind {
	case kindCall:
		l = g.call(u, h, i)
		src, dst4, sport, dport = h.ua, h.proxy, h.uaPort, sipPort
		if l != labelINVITE && l != labelACK && l != labelBYE { // responses go back to the caller
			src, dst4, sport, dport = h.proxy, h.ua, sipPort, h.uaPort
		}
	case kindRegistration:
		l = g.registration(u, h, i)
		src, dst4, sport, dport = h.ua, h.proxy, h.uaPort, sipPort
		if l != labelREGISTER {
			src, dst4, sport, dport = h.proxy, h.ua, sipPort, h.uaPort
		}
	default:
		l = g.options(u, h, i)
		src, dst4 = h.proxy, h.uas
		if l != labelOPTIONS {
			src, dst4 = h.uas, h.proxy
		}
		sport, dport = sipPort, sipPort
	}

	now := g.now()
	g.pkt = hep.Packet{
		Family: 2, Protocol: 17,
		SrcIP: src, DstIP: dst4, SrcPort: sport, DstPort: dport,
		TimeSec: uint32(now.Unix()), TimeUsec: uint32(now.Nanosecond() / 1000),
		ProtoType: 1, NodeID: g.nodeID, NodeName: g.nodeName, AuthKey: g.password,
		Payload: g.sip,
	}
	return hep.AppendHEP3(dst, &g.pkt), l
}

// call builds message i of a call into g.sip.
func (g *generator) call(u unit, h hosts, i int) label {
	switch i {
	case 0:
		g.sdp(h.ua, u.n)
		g.request("INVITE", u, h, h.ua, h.uaPort, 1, 1, "INVITE", false)
		g.contact(h.ua, h.uaPort, "alice", u)
		g.header("Content-Type", "application/sdp")
		g.finish()
		return labelINVITE
	case 1:
		g.body = g.body[:0]
		g.response("100 Trying", u, h.ua, h.uaPort, 1, 1, "INVITE", false)
		g.finish()
		return label100
	case 2:
		g.body = g.body[:0]
		g.response("180 Ringing", u, h.ua, h.uaPort, 1, 1, "INVITE", true)
		g.contact(h.uas, sipPort, "bob", u)
		g.finish()
		return label180
	case 3:
		g.sdp(h.uas, u.n+1)
		g.response("200 OK", u, h.ua, h.uaPort, 1, 1, "INVITE", true)
		g.contact(h.uas, sipPort, "bob", u)
		g.header("Content-Type", "application/sdp")
		g.finish()
		return label200
	case 4:
		g.body = g.body[:0]
		g.request("ACK", u, h, h.ua, h.uaPort, 2, 1, "ACK", true)
		g.finish()
		return labelACK
	case 5:
		g.body = g.body[:0]
		g.request("BYE", u, h, h.ua, h.uaPort, 3, 2, "BYE", true)
		g.finish()
		return labelBYE
	default:
		g.body = g.body[:0]
		g.response("200 OK", u, h.ua, h.uaPort, 3, 2, "BYE", true)
		g.finish()
		return label200
	}
}

// registration builds message i of a digest-authenticated registration.
func (g *generator) registration(u unit, h hosts, i int) label {
	g.body = g.body[:0]
	switch i {
	case 0, 2:
		n := i/2 + 1 // transaction and CSeq number
		g.request("REGISTER", u, h, h.ua, h.uaPort, n, n, "REGISTER", false)
		g.contact(h.ua, h.uaPort, "alice", u)
		g.header("Expires", "3600")
		if i == 2 {
			g.authorization(u)
		}
		g.finish()
		return labelREGISTER
	case 1:
		g.response("401 Unauthorized", u, h.ua, h.uaPort, 1, 1, "REGISTER", true)
		g.sip = append(g.sip, `WWW-Authenticate: Digest realm="`+domain+`", nonce="`...)
		g.sip = g.appendNonce(g.sip, u)
		g.sip = append(g.sip, "\", algorithm=MD5, qop=\"auth\"\r\n"...)
		g.finish()
		return label401
	default:
		g.response("200 OK", u, h.ua, h.uaPort, 2, 2, "REGISTER", true)
		g.sip = append(g.sip, "Contact: <sip:"...)
		g.sip = g.appendUser(g.sip, "alice", u)
		g.sip = append(g.sip, '@')
		g.sip = h.ua.AppendTo(g.sip)
		g.sip = append(g.sip, ':')
		g.sip = strconv.AppendUint(g.sip, uint64(h.uaPort), 10)
		g.sip = append(g.sip, ">;expires=3600\r\n"...)
		g.finish()
		return label200
	}
}

// options builds message i of a proxy's OPTIONS keep-alive ping to a UAS.
func (g *generator) options(u unit, h hosts, i int) label {
	g.body = g.body[:0]
	if i == 0 {
		g.request("OPTIONS", u, h, h.proxy, sipPort, 1, 1, "OPTIONS", false)
		g.header("Accept", "application/sdp")
		g.finish()
		return labelOPTIONS
	}
	g.response("200 OK", u, h.proxy, sipPort, 1, 1, "OPTIONS", true)
	g.header("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER")
	g.header("Accept", "application/sdp")
	g.finish()
	return label200
}

// request starts a request in g.sip: request line, Via, Max-Forwards,
// From, To, Call-ID, CSeq and User-Agent. tx numbers the transaction within
// the unit, for the Via branch (the ACK of a 2xx is a transaction of its own).
func (g *generator) request(method string, u unit, h hosts, via netip.Addr, viaPort uint16, tx, cseq int, cseqMethod string, toTag bool) {
	b := append(g.sip[:0], method...)
	b = append(b, ' ')
	switch u.kind {
	case kindRegistration:
		b = append(b, "sip:"+domain...)
	case kindOptions:
		b = append(b, "sip:"...)
		b = h.uas.AppendTo(b)
		b = append(b, ":5060"...)
	default:
		if method == "INVITE" {
			b = append(b, "sip:"...)
			b = g.appendUser(b, "bob", u)
			b = append(b, "@"+domain...)
		} else { // in-dialog: the remote target from the 200's Contact
			b = append(b, "sip:"...)
			b = g.appendUser(b, "bob", u)
			b = append(b, '@')
			b = h.uas.AppendTo(b)
			b = append(b, ":5060"...)
		}
	}
	b = append(b, " SIP/2.0\r\n"...)
	g.sip = g.appendCommon(b, u, via, viaPort, tx, cseq, cseqMethod, toTag, true)
}

// response starts a response in g.sip with the headers of the request it
// answers (Via of transaction tx, From, To, Call-ID, CSeq).
func (g *generator) response(status string, u unit, via netip.Addr, viaPort uint16, tx, cseq int, cseqMethod string, toTag bool) {
	b := append(g.sip[:0], "SIP/2.0 "...)
	b = append(b, status...)
	b = append(b, "\r\n"...)
	g.sip = g.appendCommon(b, u, via, viaPort, tx, cseq, cseqMethod, toTag, false)
}

func (g *generator) appendCommon(b []byte, u unit, via netip.Addr, viaPort uint16, tx, cseq int, cseqMethod string, toTag, request bool) []byte {
	b = append(b, "Via: SIP/2.0/UDP "...)
	b = via.AppendTo(b)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(viaPort), 10)
	b = append(b, ";branch=z9hG4bK"...)
	b = append(b, g.prefix...)
	b = append(b, '.')
	b = append(b, "cro"[u.kind])
	b = strconv.AppendInt(b, int64(u.n), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(tx), 10)
	if request {
		b = append(b, "\r\nMax-Forwards: 70"...)
	}

	from, to := "alice", "bob"
	switch u.kind {
	case kindRegistration:
		to = from
	case kindOptions:
		from, to = "ping", "ping"
	}
	b = append(b, "\r\nFrom: <sip:"...)
	b = g.appendUser(b, from, u)
	b = append(b, "@"+domain+">;tag="...)
	b = g.appendTag(b, 'f', u)
	b = append(b, "\r\nTo: <sip:"...)
	b = g.appendUser(b, to, u)
	b = append(b, "@"+domain+">"...)
	if toTag {
		b = append(b, ";tag="...)
		b = g.appendTag(b, 't', u)
	}
	b = append(b, "\r\nCall-ID: "...)
	b = g.appendCallID(b, u)
	b = append(b, "\r\nCSeq: "...)
	b = strconv.AppendInt(b, int64(cseq), 10)
	b = append(b, ' ')
	b = append(b, cseqMethod...)
	if request {
		b = append(b, "\r\nUser-Agent: "+userAgent...)
	} else {
		b = append(b, "\r\nServer: "+userAgent...)
	}
	return append(b, "\r\n"...)
}

// appendCallID appends the unit's Call-ID: unique per unit and per run.
func (g *generator) appendCallID(b []byte, u unit) []byte {
	b = append(b, g.prefix...)
	b = append(b, '-')
	b = append(b, "cro"[u.kind])
	b = strconv.AppendInt(b, int64(u.n), 10)
	b = append(b, '@')
	return hostsOf(u).ua.AppendTo(b)
}

func (g *generator) appendUser(b []byte, name string, u unit) []byte {
	b = append(b, name...)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(u.n), 10)
}

func (g *generator) appendTag(b []byte, side byte, u unit) []byte {
	b = append(b, side)
	b = append(b, g.prefix...)
	b = append(b, "cro"[u.kind])
	return strconv.AppendInt(b, int64(u.n), 36)
}

func (g *generator) appendNonce(b []byte, u unit) []byte {
	b = append(b, g.prefix...)
	b = append(b, "cro"[u.kind])
	return strconv.AppendInt(b, int64(u.n)*2654435761, 16)
}

func (g *generator) header(name, value string) {
	g.sip = append(g.sip, name...)
	g.sip = append(g.sip, ": "...)
	g.sip = append(g.sip, value...)
	g.sip = append(g.sip, "\r\n"...)
}

func (g *generator) contact(addr netip.Addr, port uint16, user string, u unit) {
	b := append(g.sip, "Contact: <sip:"...)
	b = g.appendUser(b, user, u)
	b = append(b, '@')
	b = addr.AppendTo(b)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(port), 10)
	g.sip = append(b, ">\r\n"...)
}

// authorization appends a digest Authorization header (RFC 2617, qop=auth)
// whose response is really computed, so a checking registrar would accept it.
func (g *generator) authorization(u unit) {
	const cnonce, nc = "0a4f113b", "00000001"
	// HA1 = MD5(user:realm:password), HA2 = MD5(method:uri).
	s := g.appendUser(g.scratch[:0], "alice", u)
	s = append(s, ":"+domain+":"+sipSecret...)
	ha1 := md5.Sum(s)
	ha2 := md5.Sum([]byte("REGISTER:sip:" + domain))
	s = hex.AppendEncode(s[:0], ha1[:])
	s = append(s, ':')
	s = g.appendNonce(s, u)
	s = append(s, ":"+nc+":"+cnonce+":auth:"...)
	s = hex.AppendEncode(s, ha2[:])
	resp := md5.Sum(s)
	g.scratch = s

	b := append(g.sip, `Authorization: Digest username="`...)
	b = g.appendUser(b, "alice", u)
	b = append(b, `", realm="`+domain+`", nonce="`...)
	b = g.appendNonce(b, u)
	b = append(b, `", uri="sip:`+domain+`", response="`...)
	b = hex.AppendEncode(b, resp[:])
	g.sip = append(b, `", algorithm=MD5, cnonce="`+cnonce+`", qop=auth, nc=`+nc+"\r\n"...)
}

// sdp builds a one-stream audio offer or answer into g.body.
func (g *generator) sdp(addr netip.Addr, session int) {
	b := append(g.body[:0], "v=0\r\no=- "...)
	b = strconv.AppendInt(b, int64(session)+1700000000, 10)
	b = append(b, " 1 IN IP4 "...)
	b = addr.AppendTo(b)
	b = append(b, "\r\ns=-\r\nc=IN IP4 "...)
	b = addr.AppendTo(b)
	b = append(b, "\r\nt=0 0\r\nm=audio "...)
	b = strconv.AppendInt(b, int64(10000+session%20000*2), 10)
	g.body = append(b, " RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"...)
}

// finish ends the headers with Content-Length and appends g.body.
func (g *generator) finish() {
	b := append(g.sip, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(g.body)), 10)
	b = append(b, "\r\n\r\n"...)
	g.sip = append(b, g.body...)
}
