package hep

import (
	"os"
	"path/filepath"
	"testing"
)

func kamailioInvite(b *testing.B) []byte {
	in, err := os.ReadFile(filepath.Join(testdataDir, "kamailio-hep3-frames", "01-INVITE-45779-to-5060.bin"))
	if err != nil {
		b.Fatal(err)
	}
	return in
}

func BenchmarkDecodeHEP3(b *testing.B) {
	in := kamailioInvite(b)
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := Decode(in, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeInvalid(b *testing.B) {
	in := setTotal(vector3(b), 177)
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := Decode(in, &p); err != ErrLength {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHEP3(b *testing.B) {
	var p Packet
	if err := Decode(kamailioInvite(b), &p); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, MaxLen)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendHEP3(nil, &p))))
	for b.Loop() {
		buf = AppendHEP3(buf[:0], &p)
	}
}
