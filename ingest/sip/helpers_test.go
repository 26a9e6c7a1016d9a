package sip

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// Shared test data lives in the module's testdata directory.
const testdataDir = "../../testdata"

// crlf joins lines into a SIP message: CRLF after every line, then the empty
// line.
func crlf(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\n\r\n"
}

func mustParser(t testing.TB, o Options) *Parser {
	t.Helper()
	p, err := NewParser(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hepPayload returns the body of the SIP payload chunk (vendor 0, type
// 0x000f) of one HEP3 frame: 6-byte "HEP3"+length header, then 6-byte chunk
// headers (vendor, type, length including the header).
func hepPayload(frame []byte) ([]byte, error) {
	if len(frame) < 6 || string(frame[:4]) != "HEP3" {
		return nil, fmt.Errorf("not a HEP3 frame")
	}
	n := int(binary.BigEndian.Uint16(frame[4:6]))
	if n < 6 || n > len(frame) {
		return nil, fmt.Errorf("frame length %d, have %d bytes", n, len(frame))
	}
	for i := 6; i+6 <= n; {
		vendor := binary.BigEndian.Uint16(frame[i:])
		typ := binary.BigEndian.Uint16(frame[i+2:])
		l := int(binary.BigEndian.Uint16(frame[i+4:]))
		if l < 6 || i+l > n {
			return nil, fmt.Errorf("chunk at %d: bad length %d", i, l)
		}
		if vendor == 0 && typ == 0x000f {
			return frame[i+6 : i+l], nil
		}
		i += l
	}
	return nil, fmt.Errorf("no payload chunk")
}

// hepFrames splits a HEP3-over-TCP stream by the frames' length fields.
func hepFrames(t testing.TB, stream []byte) [][]byte {
	t.Helper()
	var frames [][]byte
	for len(stream) > 0 {
		if len(stream) < 6 {
			t.Fatalf("%d stray bytes at the end of the stream", len(stream))
		}
		n := int(binary.BigEndian.Uint16(stream[4:6]))
		if n < 6 || n > len(stream) {
			t.Fatalf("frame %d: length %d, %d bytes left", len(frames)+1, n, len(stream))
		}
		frames = append(frames, stream[:n])
		stream = stream[n:]
	}
	return frames
}

// splitSIPStream splits a raw SIP byte stream into messages by Content-Length,
// independently of Parse: headers end at the first empty line, and the body
// is as long as the Content-Length (or compact "l") header says.
func splitSIPStream(t testing.TB, stream []byte) [][]byte {
	t.Helper()
	var msgs [][]byte
	for len(stream) > 0 {
		end := bytes.Index(stream, []byte("\r\n\r\n"))
		if end < 0 {
			t.Fatalf("message %d: no end of headers", len(msgs)+1)
		}
		end += 4
		cl := -1
		for _, line := range strings.Split(string(stream[:end]), "\r\n") {
			name, value, ok := strings.Cut(line, ":")
			name = strings.ToLower(strings.TrimSpace(name))
			if ok && (name == "content-length" || name == "l") {
				n, err := strconv.Atoi(strings.TrimSpace(value))
				if err != nil {
					t.Fatalf("message %d: Content-Length %q", len(msgs)+1, value)
				}
				cl = n
			}
		}
		if cl < 0 || end+cl > len(stream) {
			t.Fatalf("message %d: Content-Length %d, %d bytes left", len(msgs)+1, cl, len(stream)-end)
		}
		msgs = append(msgs, stream[:end+cl])
		stream = stream[end+cl:]
	}
	return msgs
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodedLine is the part of a *.decoded.jsonl line the tests check. HEP
// frame files nest it under "hep"; the raw SIP stream has it at the top.
type decodedLine struct {
	File      string `json:"file"`
	CallID    string `json:"call_id"`
	CSeq      string `json:"cseq"`
	FirstLine string `json:"first_line"`
	Length    int    `json:"length"`
	HEP       *struct {
		PayloadLen       int    `json:"payload_len"`
		PayloadFirstLine string `json:"payload_first_line"`
		CallID           string `json:"call_id"`
		CSeq             string `json:"cseq"`
	} `json:"hep"`
}

func readDecoded(t testing.TB, name string) []decodedLine {
	t.Helper()
	var out []decodedLine
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, name)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d decodedLine
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.HEP != nil {
			d.CallID, d.CSeq, d.FirstLine, d.Length = d.HEP.CallID, d.HEP.CSeq, d.HEP.PayloadFirstLine, d.HEP.PayloadLen
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// framePayloads returns the SIP payloads of the 13 Kamailio frame files, in
// file-name order, with their names.
func framePayloads(t testing.TB) (names []string, payloads [][]byte) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testdataDir, "kamailio-hep3-frames", "*.bin"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no frame files: %v", err)
	}
	for _, f := range files {
		frame, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := hepPayload(frame)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		names = append(names, filepath.Base(f))
		payloads = append(payloads, p)
	}
	return names, payloads
}

// firstLine returns b up to its first CRLF or LF.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return bytes.TrimSuffix(b, []byte("\r"))
}

// fieldMap renders every field of m by its Go name, "<nil>" for nil slices,
// so that table rows can list just the fields a behaviour is about.
func fieldMap(m *Message) map[string]string {
	out := make(map[string]string)
	for name, s := range sliceFields(m) {
		if s == nil {
			out[name] = "<nil>"
		} else {
			out[name] = string(s)
		}
	}
	out["IsRequest"] = strconv.FormatBool(m.IsRequest)
	out["StatusCode"] = strconv.Itoa(m.StatusCode)
	out["CSeqNum"] = strconv.FormatUint(uint64(m.CSeqNum), 10)
	out["ViaAlias"] = strconv.FormatBool(m.ViaAlias)
	out["ContentLength"] = strconv.Itoa(m.ContentLength)
	out["HeaderLen"] = strconv.Itoa(m.HeaderLen)
	return out
}

// sliceFields returns every byte-slice field of m by Go name.
func sliceFields(m *Message) map[string][]byte {
	f := map[string][]byte{
		"Method": m.Method, "RequestURI": m.RequestURI, "Status": m.Status,
		"RURIUser": m.RURIUser, "RURIDomain": m.RURIDomain,
		"FromUser": m.FromUser, "FromDomain": m.FromDomain, "FromTag": m.FromTag,
		"ToUser": m.ToUser, "ToDomain": m.ToDomain, "ToTag": m.ToTag,
		"CallID": m.CallID, "CSeq": m.CSeq, "CSeqMethod": m.CSeqMethod,
		"ContactUser": m.ContactUser, "ContactDomain": m.ContactDomain,
		"PAIUser": m.PAIUser, "AuthUser": m.AuthUser,
		"UserAgent": m.UserAgent, "Server": m.Server, "ContentType": m.ContentType,
		"Reason": m.Reason, "Diversion": m.Diversion, "Expires": m.Expires,
		"Via": m.Via, "ViaBranch": m.ViaBranch, "ALeg": m.ALeg, "Body": m.Body,
	}
	for i, e := range m.Extra {
		f["Extra"+strconv.Itoa(i)] = e
	}
	return f
}

// within reports whether s lies inside b (a nil s trivially does).
func within(b, s []byte) bool {
	if s == nil {
		return true
	}
	if len(b) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(b))
}

// dataHeader renders the data_header object for keys the way the spec shows
// it: every key present, missing values as "".
func dataHeader(m *Message, keys []Key) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		kj, _ := json.Marshal(k.String())
		vj, _ := json.Marshal(string(m.Field(k)))
		sb.Write(kj)
		sb.WriteByte(':')
		sb.Write(vj)
	}
	sb.WriteByte('}')
	return sb.String()
}
