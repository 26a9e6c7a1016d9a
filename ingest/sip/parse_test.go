package sip

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// Call-ID and CSeq every row needs to parse without error.
const (
	cid  = "Call-ID: c1@h"
	cseq = "CSeq: 7 INVITE"
	inv  = "INVITE sip:bob@example.com SIP/2.0"
)

// parseBehaviours is the table of TestParseBehaviours; the differential
// tests reuse its messages.
var parseBehaviours = []struct {
	name string
	opts Options
	msg  string
	want map[string]string // Go field name → value; "<nil>" for absent
}{
	{
		name: "header names are case-insensitive",
		msg:  crlf(inv, "cALL-iD: abc@h", "cseq: 1 INVITE", "FROM: <sip:a@h>;TAG=1", "user-AGENT: ua"),
		want: map[string]string{"CallID": "abc@h", "CSeq": "1 INVITE", "FromUser": "a", "FromTag": "1", "UserAgent": "ua"},
	},
	{
		name: "compact header forms",
		msg: crlf("MESSAGE sip:bob@h SIP/2.0", "v: SIP/2.0/TCP h;branch=z9hG4bK1", `f: "A" <sip:alice@a.example>;tag=ft`,
			"t: <sip:bob@b.example>;tag=tt", "i: cid@h", "CSeq: 2 MESSAGE", "m: <sip:alice@10.0.0.1:5060>", "c: text/plain", "l: 0"),
		want: map[string]string{
			"ViaBranch": "z9hG4bK1", "FromUser": "alice", "FromDomain": "a.example", "FromTag": "ft",
			"ToUser": "bob", "ToDomain": "b.example", "ToTag": "tt", "CallID": "cid@h",
			"ContactUser": "alice", "ContactDomain": "10.0.0.1", "ContentType": "text/plain", "ContentLength": "0",
		},
	},
	{
		name: "upper-case compact forms",
		msg:  crlf(inv, "I: cid@h", "CSeq: 1 INVITE", "F: sip:a@h;tag=x"),
		want: map[string]string{"CallID": "cid@h", "FromTag": "x"},
	},
	{
		name: "whitespace around the colon and the value is trimmed",
		msg:  crlf(inv, "Call-ID \t:   abc@h  \t", "CSeq  :\t 5   BYE  ", "Content-Length :   12  "),
		want: map[string]string{"CallID": "abc@h", "CSeq": "5   BYE", "CSeqNum": "5", "CSeqMethod": "BYE", "ContentLength": "12"},
	},
	{
		name: "folded header values continue on lines starting with SP or HTAB",
		opts: Options{ExtraHeaders: []string{"Subject"}},
		msg:  crlf(inv, cid, cseq, "From: \"Alice\"", " <sip:alice@h>", "\t;tag=folded", "Subject: one", "  two"),
		want: map[string]string{"FromUser": "alice", "FromTag": "folded", "Extra0": "one\r\n  two"},
	},
	{
		name: "a folded Call-ID does not swallow the next header",
		msg:  crlf(inv, "Call-ID:", " abc@h", cseq),
		want: map[string]string{"CallID": "abc@h", "CSeqMethod": "INVITE"},
	},
	{
		name: "LF-only line ends",
		msg:  strings.ReplaceAll(crlf(inv, cid, cseq, "To: <sip:bob@h>;tag=9", "Content-Length: 4")+"body", "\r\n", "\n"),
		want: map[string]string{"CallID": "c1@h", "ToTag": "9", "Body": "body", "HeaderLen": "105"},
	},
	{
		name: "mixed CRLF and LF line ends",
		msg:  inv + "\n" + cid + "\r\n" + cseq + "\n\r\nxy",
		want: map[string]string{"CallID": "c1@h", "CSeqMethod": "INVITE", "Body": "xy", "ContentLength": "-1"},
	},
	{
		name: "top Via is the first of several Via headers",
		msg:  crlf(inv, "Via: SIP/2.0/UDP p1;branch=b1", "Via: SIP/2.0/UDP p2;branch=b2;alias", cid, cseq),
		want: map[string]string{"Via": "SIP/2.0/UDP p1;branch=b1", "ViaBranch": "b1", "ViaAlias": "false"},
	},
	{
		name: "top Via is the first comma-separated value",
		msg:  crlf(inv, "Via: SIP/2.0/TCP p1:5060;alias;rport , SIP/2.0/UDP p2;branch=b2", cid, cseq),
		want: map[string]string{"Via": "SIP/2.0/TCP p1:5060;alias;rport , SIP/2.0/UDP p2;branch=b2", "ViaBranch": "<nil>", "ViaAlias": "true"},
	},
	{
		name: "Via parameters match case-insensitively and after other params",
		msg:  crlf(inv, "v: SIP/2.0/TLS [2001:db8::1]:5061;rport=5;received=1.2.3.4;BRANCH=z9hG4bKx;Alias=yes", cid, cseq),
		want: map[string]string{"ViaBranch": "z9hG4bKx", "ViaAlias": "true"},
	},
	{
		name: "quoted display name with escaped quotes, angle brackets and semicolons",
		msg:  crlf(inv, cid, cseq, `From: "Bob \"the <boss>\"; x=1, y" <sip:bob@h.example>;tag=real`),
		want: map[string]string{"FromUser": "bob", "FromDomain": "h.example", "FromTag": "real"},
	},
	{
		name: "quoted display name ending in an escaped backslash",
		msg:  crlf(inv, cid, cseq, `To: "Bob\\" <sip:bob@h>;tag=t`),
		want: map[string]string{"ToUser": "bob", "ToTag": "t"},
	},
	{
		name: "token display name",
		msg:  crlf(inv, cid, cseq, `To: Bob Smith <sips:bob@h:5061;transport=tls>;tag=t`),
		want: map[string]string{"ToUser": "bob", "ToDomain": "h", "ToTag": "t"},
	},
	{
		name: "name-addr with port and URI parameters",
		msg:  crlf(inv, cid, cseq, `From: "Bob" <sip:bob@host:5060;transport=tcp>;tag=x`),
		want: map[string]string{"FromUser": "bob", "FromDomain": "host", "FromTag": "x"},
	},
	{
		name: "addr-spec parameters belong to the header",
		msg:  crlf(inv, cid, cseq, "From: sip:bob@host;tag=x", "To: sip:carol@host2:5070;transport=udp;tag=y"),
		want: map[string]string{"FromUser": "bob", "FromDomain": "host", "FromTag": "x", "ToUser": "carol", "ToDomain": "host2", "ToTag": "y"},
	},
	{
		name: "a tag inside the URI is a URI parameter, not the header tag",
		msg:  crlf(inv, cid, cseq, "From: <sip:bob@h;tag=uri>;tag=hdr", "To: <sip:carol@h;tag=uri>"),
		want: map[string]string{"FromTag": "hdr", "ToTag": "<nil>"},
	},
	{
		name: "tag anywhere among parameters, any case",
		msg:  crlf(inv, cid, cseq, `From: <sip:a@h>;x-foo="q;tag=no";Tag=yes;lr`),
		want: map[string]string{"FromTag": "yes"},
	},
	{
		name: "a repeated parameter: the first counts",
		msg:  crlf(inv, "Via: SIP/2.0/UDP h;branch=b1;BRANCH=b0;branch=b2", cid, cseq, "From: <sip:a@h>;tag=x;Tag=y", "To: <sip:b@h>;tag;tag=z"),
		want: map[string]string{"ViaBranch": "b1", "FromTag": "x", "ToTag": ""},
	},
	{
		name: "tag without value is present and empty",
		msg:  crlf(inv, cid, cseq, "From: <sip:a@h>;tag"),
		want: map[string]string{"FromTag": ""},
	},
	{
		name: "scheme names are case-insensitive",
		msg:  crlf("INVITE SIPS:Bob@Example.COM SIP/2.0", cid, cseq, "From: <SIP:Alice@H>;tag=1"),
		want: map[string]string{"RURIUser": "Bob", "RURIDomain": "Example.COM", "FromUser": "Alice", "FromDomain": "H"},
	},
	{
		name: "tel URI: the number is the user and there is no domain",
		msg:  crlf("INVITE tel:+15551234567;phone-context=example.com SIP/2.0", cid, cseq, "To: <tel:+1-555-123;ext=2>;tag=t", "P-Asserted-Identity: <tel:+4930123>"),
		want: map[string]string{"RURIUser": "+15551234567", "RURIDomain": "<nil>", "ToUser": "+1-555-123", "ToDomain": "<nil>", "ToTag": "t", "PAIUser": "+4930123"},
	},
	{
		name: "URI without user part",
		msg:  crlf("OPTIONS sip:proxy.example:5060 SIP/2.0", cid, "CSeq: 1 OPTIONS", "To: <sip:proxy.example>"),
		want: map[string]string{"RURIUser": "", "RURIDomain": "proxy.example", "ToUser": "", "ToDomain": "proxy.example"},
	},
	{
		name: "user with password keeps only the user",
		msg:  crlf("INVITE sip:bob:secret@h.example SIP/2.0", cid, cseq, "From: <sip:alice:pw@a.example>;tag=1"),
		want: map[string]string{"RURIUser": "bob", "RURIDomain": "h.example", "FromUser": "alice", "FromDomain": "a.example"},
	},
	{
		name: "user part may contain semicolons inside name-addr",
		msg:  crlf("INVITE sip:+4930;npdi;rn=+4931@gw.example;user=phone SIP/2.0", cid, cseq, "To: <sip:+4930;npdi@gw.example;user=phone>"),
		want: map[string]string{"RURIUser": "+4930;npdi;rn=+4931", "RURIDomain": "gw.example", "ToUser": "+4930;npdi", "ToDomain": "gw.example"},
	},
	{
		name: "IPv6 hosts keep their brackets and lose the port",
		msg: crlf("INVITE sip:bob@[2001:db8::10]:5060;transport=tcp SIP/2.0", cid, cseq,
			"From: <sip:alice@[2001:db8::1]>;tag=1", "To: sip:bob@[::1]:5080;tag=2", "Contact: <sips:[2001:db8::2]:5061>"),
		want: map[string]string{
			"RURIDomain": "[2001:db8::10]", "FromDomain": "[2001:db8::1]", "ToDomain": "[::1]", "ToTag": "2",
			"ContactUser": "", "ContactDomain": "[2001:db8::2]",
		},
	},
	{
		name: "unknown URI scheme yields no user or domain",
		msg:  crlf(inv, cid, cseq, "From: <urn:service:sos>;tag=1"),
		want: map[string]string{"FromUser": "<nil>", "FromDomain": "<nil>", "FromTag": "1"},
	},
	{
		name: "response: status code, no Request-URI",
		msg:  crlf("SIP/2.0 180 Ringing", cid, "CSeq: 7 INVITE", "Server: kamailio"),
		want: map[string]string{"IsRequest": "false", "StatusCode": "180", "Status": "180", "Method": "<nil>", "RURIUser": "<nil>", "Server": "kamailio", "CSeqMethod": "INVITE"},
	},
	{
		name: "response without reason phrase",
		msg:  crlf("SIP/2.0 603", cid, "CSeq: 7 INVITE"),
		want: map[string]string{"StatusCode": "603", "Status": "603"},
	},
	{
		name: "request line fields",
		msg:  crlf("REGISTER sip:registrar.example SIP/2.0", cid, "CSeq: 4294967295 REGISTER", "Expires: 3600", "Contact: <sip:u@1.2.3.4;ob>;expires=60, <sip:other@h>"),
		want: map[string]string{
			"IsRequest": "true", "Method": "REGISTER", "RequestURI": "sip:registrar.example", "StatusCode": "0",
			"CSeqNum": "4294967295", "Expires": "3600", "ContactUser": "u", "ContactDomain": "1.2.3.4",
		},
	},
	{
		name: "CSeq number beyond uint32 reads as 0",
		msg:  crlf(inv, cid, "CSeq: 4294967296 INVITE"),
		want: map[string]string{"CSeqNum": "0", "CSeqMethod": "INVITE", "CSeq": "4294967296 INVITE"},
	},
	{
		name: "empty lines before the start line are skipped",
		msg:  "\r\n\r\n" + crlf(inv, cid, cseq),
		want: map[string]string{"Method": "INVITE", "CallID": "c1@h"},
	},
	{
		name: "first occurrence wins for once-only headers",
		msg:  crlf(inv, "Call-ID: first", "Call-ID: second", cseq, "CSeq: 9 BYE", "From: <sip:a@h>;tag=1", "f: <sip:b@h>;tag=2", "User-Agent: ua1", "User-Agent: ua2"),
		want: map[string]string{"CallID": "first", "CSeqMethod": "INVITE", "FromUser": "a", "FromTag": "1", "UserAgent": "ua1"},
	},
	{
		name: "whole-value headers",
		msg: crlf(inv, cid, cseq, "Reason: Q.850;cause=16;text=\"Normal call clearing\"", "Diversion: <sip:+491@h>;reason=unconditional",
			"Content-Type: application/sdp", "Server: srv/1", "User-Agent: ua/2"),
		want: map[string]string{
			"Reason": `Q.850;cause=16;text="Normal call clearing"`, "Diversion": "<sip:+491@h>;reason=unconditional",
			"ContentType": "application/sdp", "Server": "srv/1", "UserAgent": "ua/2",
		},
	},
	{
		name: "Contact: first element, addr-spec form and star",
		msg:  crlf(inv, cid, cseq, "Contact: sip:sipp@127.0.0.1:5061", "Contact: <sip:later@h>"),
		want: map[string]string{"ContactUser": "sipp", "ContactDomain": "127.0.0.1"},
	},
	{
		name: "Contact star has no user or domain",
		msg:  crlf("REGISTER sip:r SIP/2.0", cid, "CSeq: 2 REGISTER", "Contact: *", "Expires: 0"),
		want: map[string]string{"ContactUser": "<nil>", "ContactDomain": "<nil>", "Expires": "0"},
	},
	{
		name: "P-Asserted-Identity user",
		msg:  crlf(inv, cid, cseq, `P-Asserted-Identity: "Alice" <sip:+4930111@pai.example;user=phone>, <tel:+4930111>`),
		want: map[string]string{"PAIUser": "+4930111"},
	},
	{
		name: "P-Asserted-Identity without a known URI is kept whole",
		msg:  crlf(inv, cid, cseq, `P-Asserted-Identity: anonymous`),
		want: map[string]string{"PAIUser": "anonymous"},
	},
	{
		name: "Authorization username, quoted commas in other params",
		msg:  crlf(inv, cid, cseq, `Authorization: Digest realm="a, username=\"no\"", nonce="n", USERNAME = "alice" , uri="sip:h"`),
		want: map[string]string{"AuthUser": "alice"},
	},
	{
		name: "Proxy-Authorization username, token value",
		msg:  crlf(inv, cid, cseq, `proxy-authorization: Digest username=bob,realm="r"`),
		want: map[string]string{"AuthUser": "bob"},
	},
	{
		name: "Authorization: junk after a value and a token68 are skipped",
		msg:  crlf(inv, cid, cseq, `Authorization: Digest realm="r" junk "q,x", abc==, username=eve`),
		want: map[string]string{"AuthUser": "eve"},
	},
	{
		name: "CSeq number that is not decimal reads as 0",
		msg:  crlf(inv, cid, "CSeq: 0x1F INVITE"),
		want: map[string]string{"CSeqNum": "0", "CSeqMethod": "INVITE"},
	},
	{
		name: "first Authorization with a username wins",
		msg:  crlf(inv, cid, cseq, `Authorization: Bearer abc.def`, `Proxy-Authorization: Digest username="carol"`, `Authorization: Digest username="dave"`),
		want: map[string]string{"AuthUser": "carol"},
	},
	{
		name: "extra headers: any case, compact forms both ways, first occurrence, absent is nil",
		opts: Options{ExtraHeaders: []string{"X-Foo", "subject", "k", "P-Charging-Vector", "X-Empty"}},
		msg:  crlf(inv, cid, cseq, "x-FOO: one", "X-Foo: two", "s: hi", "Supported: timer", `P-Charging-Vector: icid-value="a\"b"`, "X-Empty:"),
		want: map[string]string{"Extra0": "one", "Extra1": "hi", "Extra2": "timer", "Extra3": `icid-value="a\"b"`, "Extra4": "", "Extra5": "<nil>"},
	},
	{
		name: "extra headers can repeat headers the parser already knows",
		opts: Options{ExtraHeaders: []string{"User-Agent", "Call-ID"}},
		msg:  crlf(inv, "i: c9@h", cseq, "User-Agent: ua"),
		want: map[string]string{"Extra0": "ua", "Extra1": "c9@h", "UserAgent": "ua", "CallID": "c9@h"},
	},
	{
		name: "A-leg: the first configured header present wins, wherever it appears",
		opts: Options{ALegHeaders: []string{"X-CID", "X-Leg"}},
		msg:  crlf(inv, cid, cseq, "X-Leg: leg", "x-cid: cid-a", "X-CID: cid-b"),
		want: map[string]string{"ALeg": "cid-a"},
	},
	{
		name: "A-leg: a later configured header is used when earlier ones are absent or empty",
		opts: Options{ALegHeaders: []string{"X-CID", "X-Leg"}},
		msg:  crlf(inv, cid, cseq, "X-CID:", "X-Leg: leg"),
		want: map[string]string{"ALeg": "leg"},
	},
	{
		name: "body is cut to Content-Length",
		msg:  crlf(inv, cid, cseq, "Content-Length:   4") + "bodyNEXT",
		want: map[string]string{"ContentLength": "4", "Body": "body"},
	},
	{
		name: "Content-Length past the end: body is what is there",
		msg:  crlf(inv, cid, cseq, "l: 100") + "short",
		want: map[string]string{"ContentLength": "100", "Body": "short"},
	},
	{
		name: "no Content-Length: -1 and the body runs to the end",
		msg:  crlf(inv, cid, cseq) + "all\r\n\r\nof it",
		want: map[string]string{"ContentLength": "-1", "Body": "all\r\n\r\nof it"},
	},
	{
		name: "invalid Content-Length reads as absent",
		msg:  crlf(inv, cid, cseq, "Content-Length: 12a") + "x",
		want: map[string]string{"ContentLength": "-1", "Body": "x"},
	},
	{
		name: "no empty line: headers run to the end and there is no body",
		msg:  inv + "\r\n" + cid + "\r\n" + cseq + "\r\nContent-Length: 0",
		want: map[string]string{"HeaderLen": "84", "Body": "<nil>", "ContentLength": "0", "CSeqMethod": "INVITE"},
	},
	{
		name: "NUL and binary bytes in values are kept as they are",
		msg:  crlf(inv, "Call-ID: a\x00b\xff", cseq, "From: <sip:\x00@\xfe>;tag=\x01"),
		want: map[string]string{"CallID": "a\x00b\xff", "FromUser": "\x00", "FromDomain": "\xfe", "FromTag": "\x01"},
	},
	{
		name: "lines without a colon and stray continuation lines are ignored",
		msg:  inv + "\r\n  stray continuation\r\ngarbage line\r\n: no name\r\n" + crlf(cid, cseq),
		want: map[string]string{"CallID": "c1@h", "CSeqMethod": "INVITE"},
	},
}

func TestParseBehaviours(t *testing.T) {
	for _, tt := range parseBehaviours {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParser(t, tt.opts)
			var m Message
			if err := p.Parse([]byte(tt.msg), &m); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := fieldMap(&m)
			for k, want := range tt.want {
				g, ok := got[k]
				if !ok {
					t.Fatalf("test names unknown field %q", k)
				}
				if g != want {
					t.Errorf("%s = %q, want %q", k, g, want)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	pad := "X-Pad: 0123456789012345678901234567890123456789" // keeps rows above 32 bytes
	tests := []struct {
		name string
		msg  string
		want error
	}{
		{"empty payload", "", ErrTooShort},
		{"32 bytes are too short", strings.Repeat("a", 32), ErrTooShort},
		{"33 bytes are long enough to be looked at", strings.Repeat("a", 33), ErrStartLine},
		{"binary junk", "\x00\x01\x02\xff\xfe SIP/2.0 \x00\r\n\r\n" + strings.Repeat("\x00", 20), ErrStartLine},
		{"only empty lines", strings.Repeat("\r\n", 20), ErrStartLine},
		{"wrong SIP version", crlf("INVITE sip:b@h SIP/3.0", cid, cseq), ErrStartLine},
		{"request without URI", crlf("INVITE  SIP/2.0", cid, cseq, pad), ErrStartLine},
		{"request without version", crlf("INVITE sip:bob@example.com", cid, cseq), ErrStartLine},
		{"request with trailing junk", crlf("INVITE sip:b@h SIP/2.0 x", cid, cseq), ErrStartLine},
		{"method with a non-token byte", crlf("INV(TE sip:b@h SIP/2.0", cid, cseq), ErrStartLine},
		{"leading space before the method", crlf(" INVITE sip:b@h SIP/2.0", cid, cseq), ErrStartLine},
		{"status code of two digits", crlf("SIP/2.0 20 OK", cid, cseq, pad), ErrStartLine},
		{"status code of four digits", crlf("SIP/2.0 2000 OK", cid, cseq), ErrStartLine},
		{"status code below 100", crlf("SIP/2.0 099 Odd", cid, cseq), ErrStartLine},
		{"status code not digits", crlf("SIP/2.0 2x0 OK", cid, cseq), ErrStartLine},
		{"status line without code", crlf("SIP/2.0", cid, cseq, pad), ErrStartLine},
		{"missing Call-ID", crlf(inv, cseq, pad), ErrNoCallID},
		{"empty Call-ID", crlf(inv, "Call-ID:   ", cseq, pad), ErrNoCallID},
		{"Call-ID only in the body", crlf(inv, cseq, pad) + cid, ErrNoCallID},
		{"missing CSeq", crlf(inv, cid, pad), ErrNoCSeq},
		{"CSeq without method", crlf(inv, cid, "CSeq: 1", pad), ErrNoCSeq},
		{"CSeq method of two characters", crlf(inv, cid, "CSeq: 1 IN", pad), ErrNoCSeq},
		{"missing Call-ID is reported before missing CSeq", crlf(inv, pad), ErrNoCallID},
	}
	p := mustParser(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := p.Parse([]byte(tt.msg), &m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseResetsMessage(t *testing.T) {
	p := mustParser(t, Options{ExtraHeaders: []string{"X-A"}, ALegHeaders: []string{"X-CID"}})
	full := crlf(inv, cid, cseq, "X-A: a", "X-CID: leg", "From: <sip:a@h>;tag=1", "Via: SIP/2.0/UDP h;alias", "Content-Length: 0")
	bare := crlf("SIP/2.0 200 OK", "i: other@h", "CSeq: 1 OPTIONS", "X-CID: leg2")
	var m, fresh Message
	if err := p.Parse([]byte(full), &m); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse([]byte(bare), &m); err != nil {
		t.Fatal(err)
	}
	if err := p.Parse([]byte(bare), &fresh); err != nil {
		t.Fatal(err)
	}
	got, want := fieldMap(&m), fieldMap(&fresh)
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("after reuse %s = %q, fresh parse gives %q", k, got[k], want[k])
		}
	}
	if want["ALeg"] != "leg2" {
		t.Errorf("ALeg = %q, want leg2 (rank of the previous message must not carry over)", want["ALeg"])
	}
}

func TestFieldMethodIsStatusForResponses(t *testing.T) {
	p := mustParser(t, Options{})
	tests := []struct {
		msg  string
		want string
	}{
		{crlf(inv, cid, cseq), "INVITE"},
		{crlf("SIP/2.0 486 Busy Here", cid, cseq), "486"},
	}
	for _, tt := range tests {
		var m Message
		if err := p.Parse([]byte(tt.msg), &m); err != nil {
			t.Fatal(err)
		}
		if got := string(m.Field(KeyMethod)); got != tt.want {
			t.Errorf("Field(KeyMethod) = %q, want %q", got, tt.want)
		}
	}
}

func TestFieldCoversEveryKey(t *testing.T) {
	p := mustParser(t, Options{ALegHeaders: []string{"X-CID"}})
	msg := crlf("INVITE sip:ru@rd SIP/2.0", "Via: SIP/2.0/UDP v", "From: <sip:fu@fd>;tag=ft", "To: <sip:tu@td>;tag=tt",
		"Call-ID: ci", "CSeq: 1 INVITE", "X-CID: al", "Contact: <sip:cu@cd>", "P-Asserted-Identity: <sip:pu@pd>",
		`Authorization: Digest username="au"`, "User-Agent: ua", "Server: sv", "Content-Type: ct", "Reason: re",
		"Diversion: dv", "Expires: ex")
	want := map[Key]string{
		KeyMethod: "INVITE", KeyCSeq: "1 INVITE", KeyCallID: "ci", KeyCallIDALeg: "al",
		KeyRURIUser: "ru", KeyRURIDomain: "rd", KeyFromUser: "fu", KeyFromDomain: "fd", KeyFromTag: "ft",
		KeyToUser: "tu", KeyToDomain: "td", KeyToTag: "tt", KeyContactUser: "cu", KeyContactDomain: "cd",
		KeyPIDUser: "pu", KeyAuthUser: "au", KeyUserAgent: "ua", KeyServer: "sv", KeyContentType: "ct",
		KeyReason: "re", KeyDiversion: "dv", KeyExpires: "ex", KeyVia: "SIP/2.0/UDP v",
	}
	var m Message
	if err := p.Parse([]byte(msg), &m); err != nil {
		t.Fatal(err)
	}
	for k := Key(1); k < numKeys; k++ {
		w, ok := want[k]
		if !ok {
			t.Errorf("no expectation for key %v", k)
		}
		if got := string(m.Field(k)); got != w {
			t.Errorf("Field(%v) = %q, want %q", k, got, w)
		}
	}
	if got := m.Field(0); got != nil {
		t.Errorf("Field(0) = %q, want nil", got)
	}
}

func TestNewParser(t *testing.T) {
	many := make([]string, MaxExtraHeaders+1)
	for i := range many {
		many[i] = "X-H" + string(rune('a'+i))
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"no options", Options{}, false},
		{"maximum extra headers", Options{ExtraHeaders: many[:MaxExtraHeaders]}, false},
		{"too many extra headers", Options{ExtraHeaders: many}, true},
		{"too many A-leg headers", Options{ALegHeaders: many}, true},
		{"empty name", Options{ExtraHeaders: []string{""}}, true},
		{"name with a colon", Options{ExtraHeaders: []string{"X-Foo:"}}, true},
		{"name with a space", Options{ALegHeaders: []string{"X CID"}}, true},
		{"name with a quote", Options{ExtraHeaders: []string{`X-"`}}, true},
		{"same name twice, different case", Options{ExtraHeaders: []string{"X-Foo", "x-foo"}}, true},
		{"compact and long form of the same header", Options{ExtraHeaders: []string{"Subject", "s"}}, true},
		{"same name in both lists", Options{ExtraHeaders: []string{"X-CID"}, ALegHeaders: []string{"X-CID"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewParser(tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && p == nil {
				t.Fatal("nil Parser without error")
			}
		})
	}
}

func TestParserIsSafeForConcurrentUse(t *testing.T) {
	// Meaningful under -race: Parse must not write to the Parser.
	p := mustParser(t, Options{ExtraHeaders: []string{"X-A"}, ALegHeaders: []string{"X-CID"}})
	msg := []byte(crlf(inv, cid, cseq, "X-A: a", "X-CID: leg"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var m Message
			for range 100 {
				if err := p.Parse(msg, &m); err != nil || string(m.ALeg) != "leg" || string(m.Extra[0]) != "a" {
					t.Errorf("Parse = %v, ALeg %q, Extra[0] %q", err, m.ALeg, m.Extra[0])
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestParseKeysMatchesParse: on every known payload (the differential
// corpus and the fuzz seeds) and with and without
// extra and A-leg headers, ParseKeys agrees with Parse on what it fills.
func TestParseKeysMatchesParse(t *testing.T) {
	_, corpus := corpusMessages(t)
	payloads := append(seedPayloads(t), corpus...)
	for _, o := range []Options{{}, fuzzOptions(), {ALegHeaders: []string{"Call-ID"}}} {
		p := mustParser(t, o)
		for _, b := range payloads {
			var m Message
			err := p.Parse(b, &m)
			checkParseKeys(t, p, b, &m, err)
		}
	}
}
