package hep

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// Spec §11 test vectors, byte for byte.
const (
	vector1Hex = `484550330170000000010007020000000200071100000003000ac000020a0000
0004000ac633641400000007000813c400000008000813c400000009000a6553
f1000000000a000a0001e2400000000b0007010000000c000a000007d1000000
0f0113494e56495445207369703a626f62406578616d706c652e636f6d205349
502f322e300d0a5669613a205349502f322e302f554450203139322e302e322e
31303a353036303b6272616e63683d7a39684734624b3737366173646864730d
0a46726f6d3a203c7369703a616c696365406578616d706c652e636f6d3e3b74
61673d313932383330313737340d0a546f3a203c7369703a626f62406578616d
706c652e636f6d3e0d0a43616c6c2d49443a2061383462346337366536363731
30403139322e302e322e31300d0a435365713a2033313431353920494e564954
450d0a557365722d4167656e743a205465737455412f312e300d0a436f6e7465
6e742d4c656e6774683a20300d0a0d0a`

	vector2Hex = `4845503301bd0000000100070a0000000200070600000005001620010db80000
0000000000000000002000000006001620010db8000000000000000000000010
00000007000813c40000000800089d7800000009000a6553f1000000000a000a
0001e6280000000b0007010000000c000a000007d20000000e000b6d79486570
00000011000f616c656769642d3737000000120008006400000013000c656467
652d31000201010008beef000000170007180000000f010b5349502f322e3020
323030204f4b0d0a5669613a205349502f322e302f544350205b323030313a64
62383a3a31305d3a353036303b6272616e63683d7a39684734624b6e61736864
73370d0a46726f6d3a203c7369703a6361726f6c406578616d706c652e6f7267
3e3b7461673d6137336b737a6c666c0d0a546f3a203c7369703a6361726f6c40
6578616d706c652e6f72673e3b7461673d3337476b4568776c360d0a43616c6c
2d49443a20316a3946704c786b337578746d38746e40323030313a6462383a3a
31300d0a435365713a20313832362052454749535445520d0a45787069726573
3a20333630300d0a436f6e74656e742d4c656e6774683a20300d0a0d0a`

	vector3Hex = `4845503300b0000000010007020000000200071100000003000ac000020a0000
0004000ac63364140000000700084e21000000080008753100000009000a6553
f1050000000a000a000000000000000b0007050000000c000a000007d1000000
11001f6138346234633736653636373130403139322e302e322e31300000000f
00347b2274797065223a3230302c2273737263223a3330353431393839362c22
7265706f72745f636f756e74223a307d`

	// Spec §7: HEPv2 and HEPv1 headers of 192.0.2.10:5060 → 198.51.100.20:5060.
	legacyV2HeaderHex = "0210021113c413c4c000020ac633641400f1536540e20100d1070000"
	legacyV1HeaderHex = "0110021113c413c4c000020ac6336414"
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

func vector1(tb testing.TB) []byte { return fromHex(tb, vector1Hex) }
func vector2(tb testing.TB) []byte { return fromHex(tb, vector2Hex) }
func vector3(tb testing.TB) []byte { return fromHex(tb, vector3Hex) }

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
	return append(fromHex(tb, legacyV2HeaderHex), vector1Payload...)
}

func legacyV1(tb testing.TB) []byte {
	return append(fromHex(tb, legacyV1HeaderHex), vector1Payload...)
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
