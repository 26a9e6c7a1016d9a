package hep

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"
	"testing"
)

func compress(t *testing.T, kind string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch kind {
	case "zlib":
		w = zlib.NewWriter(&buf)
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInflate(t *testing.T) {
	sip := []byte(strings.Repeat(vector1Payload, 10))
	for _, kind := range []string{"zlib", "gzip", "deflate"} {
		t.Run(kind, func(t *testing.T) {
			z := compress(t, kind, sip)
			got, err := Inflate([]byte("pre"), z, len(sip))
			if err != nil {
				t.Fatalf("Inflate: %v", err)
			}
			if !bytes.Equal(got, append([]byte("pre"), sip...)) {
				t.Errorf("Inflate returned %d bytes, want %q + %d", len(got), "pre", len(sip))
			}
			got, err = Inflate([]byte("pre"), z, len(sip)-1)
			if !errors.Is(err, ErrInflateTooLong) || string(got) != "pre" {
				t.Errorf("over the limit: %q, %v; want %q, ErrInflateTooLong", got, err, "pre")
			}
		})
	}
}

func TestInflateRejectsGarbage(t *testing.T) {
	z := compress(t, "zlib", []byte(vector1Payload))
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"truncated zlib stream", z[:len(z)/2]},
		{"text", []byte("INVITE sip:a@b SIP/2.0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Inflate(nil, tt.in, 1<<16); !errors.Is(err, ErrInflate) || len(got) != 0 {
				t.Errorf("Inflate = %q, %v; want ErrInflate", got, err)
			}
		})
	}
}

func TestInflateBomb(t *testing.T) {
	z := compress(t, "gzip", make([]byte, 10<<20))
	if _, err := Inflate(nil, z, 64<<10); !errors.Is(err, ErrInflateTooLong) {
		t.Fatalf("Inflate = %v, want ErrInflateTooLong", err)
	}
}

func TestInflateExactlyAtLimit(t *testing.T) {
	data := []byte(strings.Repeat("a", 1000))
	got, err := Inflate(make([]byte, 0, 1), compress(t, "zlib", data), len(data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Inflate = %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	if got, err := Inflate(nil, compress(t, "zlib", nil), 0); err != nil || len(got) != 0 {
		t.Fatalf("empty stream with limit 0: %q, %v", got, err)
	}
}

// FuzzInflate checks that Inflate never panics and honours its limit.
func FuzzInflate(f *testing.F) {
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}, 10)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 10)
	f.Add([]byte(vector1Payload), 100)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		limit = max(0, limit%(1<<20))
		out, err := Inflate([]byte("x"), in, limit)
		if len(out) < 1 || out[0] != 'x' {
			t.Fatalf("dst prefix lost: %q", out)
		}
		if len(out)-1 > limit {
			t.Fatalf("%d bytes appended, limit %d", len(out)-1, limit)
		}
		if err != nil && len(out) != 1 {
			t.Fatalf("error %v with %d bytes appended", err, len(out)-1)
		}
	})
}
