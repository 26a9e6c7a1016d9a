package sip

import (
	"strings"
	"testing"
)

// lookup is the plain statement of what headerAt recognises: the header a
// whole name stands for, ignoring case.
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

// headerAtAny is parse's choice between headerAt and headerAtEnd.
func headerAtAny(b []byte, i int) (hdr, int) {
	if len(b)-i >= nameRoom {
		return headerAt(b, i)
	}
	return headerAtEnd(b, i)
}

// TestHeaderAt: headerAt and headerAtEnd agree with lookup on every
// extracted header name, its compact form and near misses, in any case,
// before each byte that can follow a name and at the end of short and long
// buffers.
func TestHeaderAt(t *testing.T) {
	names := []string{
		"v", "via", "f", "from", "t", "to", "i", "call-id", "cseq", "m", "contact",
		"p-asserted-identity", "authorization", "proxy-authorization", "user-agent",
		"server", "c", "content-type", "reason", "diversion", "expires", "l", "content-length",
		"vi", "fro", "tox", "call_id", "call\rid", "cseq-", "contacts", "content-typ",
		"p-asserted-identit", "x-foo", "subject", "max-forwards", "a", "p", "", "-", "call-iD",
	}
	var cases []string
	for _, n := range names {
		cases = append(cases, n, strings.ToUpper(n), strings.ToUpper(n[:len(n)/2])+n[len(n)/2:])
	}
	for _, n := range cases {
		for _, after := range []string{":", " :", "\t:", "x:", "-:", "\r\n", "", ": " + strings.Repeat("v", 30)} {
			line := n + after
			name := n
			for _, c := range []byte(after) { // the name goes on
				if !tokenByte[c] {
					break
				}
				name += string(c)
			}
			want, wantN := lookup([]byte(name)), len(name)
			if want == hNone {
				wantN = 0
			}
			for _, b := range []string{line, "xx" + line} { // at 0 and at 2
				i := len(b) - len(line)
				if h, got := headerAtAny([]byte(b), i); h != want || got != wantN {
					t.Errorf("headerAt(%q, %d) = %v, %d; want %v, %d", b, i, h, got, want, wantN)
				}
			}
		}
	}
}

// TestParamFastPath: the shortcut for ";name=value" at the start gives what
// the general scan gives, on the shapes next to it.
func TestParamFastPath(t *testing.T) {
	for _, s := range []string{
		";tag=abc", ";TAG=abc", ";tag=abc;x=1", ";tag=abc,<sip:b>", ";tag=abc def", ";tag=", ";tag=;x",
		";tag= abc", `;tag="a b"`, ";tag =abc", "; tag=abc", ";tags=abc", ";ta=abc", ";x=1;tag=abc",
		";tag=a\"b", ";tag=\x00b", ";tag=abc\r\n", ";tag", "tag=abc", ";tag=a=b",
	} {
		gv, gok := scanParams([]byte(s), "tag")
		v, ok := param([]byte(s), "tag")
		if ok != gok || string(v) != string(gv) {
			t.Errorf("param(%q) = %q, %v; the general scan gives %q, %v", s, v, ok, gv, gok)
		}
	}
}
