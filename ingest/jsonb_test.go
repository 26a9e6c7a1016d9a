package ingest

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/hep"
	"github.com/hepd/hepd/ingest/sip"
)

// members returns the keys of a flat JSON object in the order they are
// written, and its members' values as JSON text.
func members(t *testing.T, s []byte) ([]string, map[string]string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not an object (%v)", s, err)
	}
	var keys []string
	text := map[string]string{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		keys = append(keys, k.(string))
		text[k.(string)] = string(v) // the last of equal keys, as jsonb keeps
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return keys, text
}

// checkJSONBOrder fails unless the keys of the object s come in jsonb's
// order.
func checkJSONBOrder(t *testing.T, what string, s []byte) {
	t.Helper()
	keys, _ := members(t, s)
	for i := 1; i < len(keys); i++ {
		if jsonbCompare(keys[i-1], keys[i]) > 0 {
			t.Errorf("%s %s: key %q before %q, not in jsonb's order", what, s, keys[i-1], keys[i])
		}
	}
}

// sameJSONB fails unless got holds want's members, as jsonb compares them
// (key order aside), with its keys in jsonb's order.
func sameJSONB(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	_, g := members(t, got)
	_, w := members(t, []byte(want))
	if !maps.Equal(g, w) {
		t.Errorf("%s\n got %s\nwant %s", what, got, want)
	}
	checkJSONBOrder(t, what, got)
}

func TestJSONBCompare(t *testing.T) {
	// The order PostgreSQL 15 prints SELECT '{"callid":1,"cseq":2,
	// "to_tag":3,"ruri_domain":4,"from_user":5,"method":6}'::jsonb in.
	want := []string{"cseq", "callid", "method", "to_tag", "from_user", "ruri_domain"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, jsonbCompare)
	if !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
}

// TestHeadersInJSONBOrder: every header hepd writes has its keys in jsonb's
// order, whatever keys and custom headers are configured, so that
// PostgreSQL has no object to sort.
func TestHeadersInJSONBOrder(t *testing.T) {
	invite := strings.Replace(sipMsg("INVITE", "INVITE"), "Content-Length",
		"X-CID: aleg-1\r\nP-Charging-Vector: icid-value=1\r\nSubject: hi\r\nreason: custom\r\nReason: SIP;cause=200\r\nContent-Length", 1)
	var allKeys []sip.Key
	for k := sip.Key(1); !strings.HasPrefix(k.String(), "sip.Key("); k++ {
		allKeys = append(allKeys, k)
	}
	withPass := hep.Packet{Version: 3, Family: 2, Protocol: 17, SrcIP: netip.MustParseAddr("10.0.0.1"),
		DstIP: netip.MustParseAddr("10.0.0.2"), TimeSec: 1700000000, ProtoType: 1, AuthKey: []byte("pw"), Payload: []byte(invite)}
	for _, tc := range []struct {
		name string
		o    Options
		data []byte
	}{
		{"SIP, Homer's default keys", Options{}, packet(1, "", invite)},
		{"SIP, every key, custom headers, capturePass", Options{SIPKeys: allKeys, ALegHeaders: []string{"X-CID"},
			ExtraHeaders: []string{"Subject", "P-Charging-Vector", "reason", "X-Absent"}}, hep.AppendHEP3(nil, &withPass)},
		{"RTCP", Options{}, packet(5, "c-1", `{"type":200}`)},
		{"log", Options{}, packet(100, "c-1", `{"text":"x"}`)},
		{"ISUP", Options{}, packet(54, "", `{"cic":12,"dpc":300,"opc":200,"msg_name":"IAM","called_number":{"num":"123"},"calling_number":{"num":"456"}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, out := newTestPipeline(t, tc.o)
			deliverOne(p, tc.data, time.Now())
			if len(out.recs) != 1 {
				t.Fatalf("%d records (stats %+v)", len(out.recs), p.Stats())
			}
			checkJSONBOrder(t, "protocol_header", out.recs[0].ProtocolHeader)
			checkJSONBOrder(t, "data_header", out.recs[0].DataHeader)
		})
	}
}

// TestDataFieldsKeepLastOfEqualKeys: a custom header named like a Homer key
// follows it, so that jsonb, which keeps the last of equal keys, stores the
// custom header's value, as before the keys were ordered.
func TestDataFieldsKeepLastOfEqualKeys(t *testing.T) {
	fs := dataFields([]sip.Key{sip.KeyReason, sip.KeyCallID}, []string{"reason", "X-Z"})
	var got []string
	for _, f := range fs {
		got = append(got, f.name)
	}
	if want := []string{"X-Z", "callid", "reason", "reason"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	if fs[2].key != sip.KeyReason || fs[3].key != 0 || fs[3].extra != 0 {
		t.Errorf("the Homer key must come first, then the custom header: %+v", fs)
	}
}
