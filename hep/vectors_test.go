package hep

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"github.com/hepd/hepd/internal/testvec"
	"strings"
	"testing"
)

const (
	vector1Payload = "INVITE sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n" +
		"From: <sip:alice@example.com>;tag=1928301774\r\n" +
		"To: <sip:bob@example.com>\r\n" +
		"Call-ID: a84b4c76e66710@192.0.2.10\r\n" +
		"CSeq: 314159 INVITE\r\n" +
		"User-Agent: TestUA/1.0\r\n" +
		"Content-Length: 0\r\n\r\n"
	vector2Payload = "SIP/2.0 200 OK\r\n" +
		"Via: SIP/2.0/TCP [2001:db8::10]:5060;branch=z9hG4bKnashds7\r\n" +
		"From: <sip:carol@example.org>;tag=a73kszlfl\r\n" +
		"To: <sip:carol@example.org>;tag=37GkEhwl6\r\n" +
		"Call-ID: 1j9FpLxk3uxtm8tn@2001:db8::10\r\n" +
		"CSeq: 1826 REGISTER\r\n" +
		"Expires: 3600\r\n" +
		"Content-Length: 0\r\n\r\n"
	vector3Payload = `{"type":200,"ssrc":305419896,"report_count":0}`
)

func fromHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func vector1(tb testing.TB) []byte { return fromHex(tb, testvec.Vector1) }
func vector2(tb testing.TB) []byte { return fromHex(tb, testvec.Vector2) }
func vector3(tb testing.TB) []byte { return fromHex(tb, testvec.Vector3) }

// vector2b is vector 2 with its vendor chunk's type changed to 0x0001,
// which must still be skipped rather than size-checked as a family chunk.
func vector2b(tb testing.TB) []byte {
	b := vector2(tb)
	old := fromHex(tb, "000201010008beef")
	i := bytes.Index(b, old)
	if i < 0 {
		tb.Fatal("vendor chunk not found in vector 2")
	}
	b[i+3] = 0x01
	b[i+2] = 0x00
	return b
}

func legacyV2(tb testing.TB) []byte {
	return append(fromHex(tb, testvec.LegacyV2Header), vector1Payload...)
}

func legacyV1(tb testing.TB) []byte {
	return append(fromHex(tb, testvec.LegacyV1Header), vector1Payload...)
}

// setTotal rewrites a HEP3 packet's total-length field.
func setTotal(b []byte, n int) []byte {
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	return b
}

// patch substitutes the first occurrence of old (hex) in b by new (hex).
func patch(tb testing.TB, b []byte, old, new string) []byte {
	tb.Helper()
	o, n := fromHex(tb, old), fromHex(tb, new)
	if !bytes.Contains(b, o) {
		tb.Fatalf("%s not found", old)
	}
	return bytes.Replace(b, o, n, 1)
}

// replace patches a HEP3 packet and fixes its total length.
func replace(tb testing.TB, b []byte, old, new string) []byte {
	tb.Helper()
	b = patch(tb, b, old, new)
	return setTotal(b, len(b))
}

// build makes a HEP3 packet of the given chunks (hex).
func build(tb testing.TB, chunks ...string) []byte {
	tb.Helper()
	b := fromHex(tb, "484550330000"+strings.Join(chunks, ""))
	return setTotal(b, len(b))
}

// bytesChunk is a vendor-0 chunk of type typ with body s, as hex.
func bytesChunk(typ uint16, s string) string {
	return hex.EncodeToString(binary.BigEndian.AppendUint16([]byte{0, 0, byte(typ >> 8), byte(typ)}, uint16(6+len(s)))) + hex.EncodeToString([]byte(s))
}
