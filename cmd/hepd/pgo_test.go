package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// TestPGOProfile: default.pgo, the profile go build and go run compile hepd
// with (-pgo=auto), is a gzipped CPU profile that names the hot path's
// functions. A profile that does not name a function leaves it out of
// profile-guided optimisation without a word, so a function renamed or
// added here means the profile wants refreshing (README, Performance).
func TestPGOProfile(t *testing.T) {
	f, err := os.Open("default.pgo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("default.pgo is not a gzipped pprof profile: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{
		"github.com/hepd/hepd/hep.DecodeHEP3",
		"github.com/hepd/hepd/ingest.(*Pipeline).handleHEP",
		"github.com/hepd/hepd/ingest.appendSIPField",
		"github.com/hepd/hepd/ingest.appendProtocolHeader",
		"github.com/hepd/hepd/ingest/sip.(*Parser).parse",
		"github.com/hepd/hepd/ingest/sip.headerAt",
		"github.com/hepd/hepd/ingest/sip.(*lineMap).scan",
		"github.com/hepd/hepd/tcpstack.(*worker).cut", // the framer is inlined into it, and too quick to be sampled every time
		"github.com/hepd/hepd/store.(*batch).addFields",
	} {
		if !bytes.Contains(b, []byte(fn)) {
			t.Errorf("default.pgo does not name %s", fn)
		}
	}
}
