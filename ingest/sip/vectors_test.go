package sip

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// The full HEP3 packets of hep3.md §11, vectors 1 and 2.
const (
	vector1Hex = "484550330170000000010007020000000200071100000003000ac000020a0000" +
		"0004000ac633641400000007000813c400000008000813c400000009000a6553" +
		"f1000000000a000a0001e2400000000b0007010000000c000a000007d1000000" +
		"0f0113494e56495445207369703a626f62406578616d706c652e636f6d205349" +
		"502f322e300d0a5669613a205349502f322e302f554450203139322e302e322e" +
		"31303a353036303b6272616e63683d7a39684734624b3737366173646864730d" +
		"0a46726f6d3a203c7369703a616c696365406578616d706c652e636f6d3e3b74" +
		"61673d313932383330313737340d0a546f3a203c7369703a626f62406578616d" +
		"706c652e636f6d3e0d0a43616c6c2d49443a2061383462346337366536363731" +
		"30403139322e302e322e31300d0a435365713a2033313431353920494e564954" +
		"450d0a557365722d4167656e743a205465737455412f312e300d0a436f6e7465" +
		"6e742d4c656e6774683a20300d0a0d0a"
	vector2Hex = "4845503301bd0000000100070a0000000200070600000005001620010db80000" +
		"0000000000000000002000000006001620010db8000000000000000000000010" +
		"00000007000813c40000000800089d7800000009000a6553f1000000000a000a" +
		"0001e6280000000b0007010000000c000a000007d20000000e000b6d79486570" +
		"00000011000f616c656769642d3737000000120008006400000013000c656467" +
		"652d31000201010008beef000000170007180000000f010b5349502f322e3020" +
		"323030204f4b0d0a5669613a205349502f322e302f544350205b323030313a64" +
		"62383a3a31305d3a353036303b6272616e63683d7a39684734624b6e61736864" +
		"73370d0a46726f6d3a203c7369703a6361726f6c406578616d706c652e6f7267" +
		"3e3b7461673d6137336b737a6c666c0d0a546f3a203c7369703a6361726f6c40" +
		"6578616d706c652e6f72673e3b7461673d3337476b4568776c360d0a43616c6c" +
		"2d49443a20316a3946704c786b337578746d38746e40323030313a6462383a3a" +
		"31300d0a435365713a20313832362052454749535445520d0a45787069726573" +
		"3a20333630300d0a436f6e74656e742d4c656e6774683a20300d0a0d0a"
)

func vectorPayload(t testing.TB, hexPacket string, wantLen int) []byte {
	t.Helper()
	frame, err := hex.DecodeString(hexPacket)
	if err != nil {
		t.Fatal(err)
	}
	p, err := hepPayload(frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != wantLen {
		t.Fatalf("payload is %d bytes, spec says %d", len(p), wantLen)
	}
	return p
}

// n8Payload is vector 1 without its CSeq line (hep3.md §11, N8).
func n8Payload(t testing.TB) []byte {
	p := vectorPayload(t, vector1Hex, 269)
	return bytes.Replace(p, []byte("CSeq: 314159 INVITE\r\n"), nil, 1)
}

func TestSpecVectors(t *testing.T) {
	p := mustParser(t, Options{})
	tests := []struct {
		name       string
		payload    []byte
		dataHeader string // hep3.md §11, Homer's default key list
		profile    string
		more       map[string]string
	}{
		{
			name:       "vector 1: INVITE over IPv4",
			payload:    vectorPayload(t, vector1Hex, 269),
			dataHeader: `{"ruri_user":"bob","ruri_domain":"example.com","from_user":"alice","from_tag":"1928301774","to_user":"bob","to_tag":"","callid":"a84b4c76e66710@192.0.2.10","cseq":"314159 INVITE","method":"INVITE","user_agent":"TestUA/1.0"}`,
			profile:    "call",
			more: map[string]string{
				"ToTag": "<nil>", "CSeqNum": "314159", "ViaBranch": "z9hG4bK776asdhds",
				"Via":           "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds",
				"ContentLength": "0", "Body": "", "HeaderLen": "269",
			},
		},
		{
			name:       "vector 2: 200 OK to REGISTER over IPv6",
			payload:    vectorPayload(t, vector2Hex, 261),
			dataHeader: `{"ruri_user":"","ruri_domain":"","from_user":"carol","from_tag":"a73kszlfl","to_user":"carol","to_tag":"37GkEhwl6","callid":"1j9FpLxk3uxtm8tn@2001:db8::10","cseq":"1826 REGISTER","method":"200","user_agent":""}`,
			profile:    "registration",
			more: map[string]string{
				"IsRequest": "false", "StatusCode": "200", "Method": "<nil>",
				"Expires": "3600", "ViaBranch": "z9hG4bKnashds7", "FromDomain": "example.org",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := p.Parse(tt.payload, &m); err != nil {
				t.Fatal(err)
			}
			if got := dataHeader(&m, DefaultKeys()); got != tt.dataHeader {
				t.Errorf("data_header\n got %s\nwant %s", got, tt.dataHeader)
			}
			if got := Profile(m.CSeqMethod); got != tt.profile {
				t.Errorf("Profile = %q, want %q", got, tt.profile)
			}
			got := fieldMap(&m)
			for k, want := range tt.more {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}

func TestSpecNegativeN8DropsMessageWithoutCSeq(t *testing.T) {
	var m Message
	err := mustParser(t, Options{}).Parse(n8Payload(t), &m)
	if !errors.Is(err, ErrNoCSeq) {
		t.Fatalf("err = %v, want ErrNoCSeq", err)
	}
}
