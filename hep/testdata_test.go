package hep

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Recorded traffic from real agents (see testdata/README in the shared
// spec folder) and its reference decodes.
const testdataDir = "../testdata"

var frameDirs = []string{"kamailio-hep3-frames", "kamailio-hep3-udp-datagrams", "sngrep-hep3-udp-datagrams"}

var tcpStreams = []string{"kamailio-hep3-tcp-stream-5calls.bin", "heplify-hep3-tcp-stream-5calls.bin"}

// reference is one line of a *.decoded.jsonl file.
type reference struct {
	File  string `json:"file"`
	Frame int    `json:"frame"`
	HEP   struct {
		Length     int      `json:"length"`
		Family     uint8    `json:"ip_family"`
		Proto      uint8    `json:"ip_proto"`
		SrcIP      string   `json:"src_ip"`
		DstIP      string   `json:"dst_ip"`
		SrcPort    uint16   `json:"src_port"`
		DstPort    uint16   `json:"dst_port"`
		TimeSec    uint32   `json:"ts_sec"`
		TimeUsec   uint32   `json:"ts_usec"`
		ProtoType  uint8    `json:"proto_type"`
		CaptureID  uint32   `json:"capture_id"`
		NodeName   string   `json:"node_name"`
		PayloadLen int      `json:"payload_len"`
		FirstLine  string   `json:"payload_first_line"`
		CallID     string   `json:"call_id"`
		CSeq       string   `json:"cseq"`
		Chunks     []string `json:"chunks"`
	} `json:"hep"`
}

func readReferences(t *testing.T, path string) []reference {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var refs []reference
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r reference
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		refs = append(refs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return refs
}

// checkReference compares every field of p with the reference decode.
func checkReference(t *testing.T, p *Packet, r *reference) {
	t.Helper()
	h := &r.HEP
	var seenWant uint64
	var kept []string
	for _, c := range h.Chunks {
		var vendor, typ uint16
		var n int
		if _, err := fmt.Sscanf(c, "%d:%d/%d", &vendor, &typ, &n); err != nil {
			t.Fatalf("chunk %q: %v", c, err)
		}
		if vendor == 0 && typ < 64 {
			seenWant |= 1 << typ
		}
		if vendor != 0 || typ > ChunkNodeName {
			kept = append(kept, c)
		}
	}
	var keptGot []string
	for _, c := range p.Vendor[:p.VendorN] {
		keptGot = append(keptGot, fmt.Sprintf("%d:%d/%d", c.Vendor, c.Type, len(c.Body)))
	}
	payload := string(p.Payload)
	firstLine, _, _ := strings.Cut(payload, "\r\n")
	checks := []struct {
		name      string
		got, want any
	}{
		{"version", p.Version, uint8(3)},
		{"ip_family", p.Family, h.Family},
		{"ip_proto", p.Protocol, h.Proto},
		{"src_ip", p.SrcIP, netip.MustParseAddr(h.SrcIP)},
		{"dst_ip", p.DstIP, netip.MustParseAddr(h.DstIP)},
		{"src_port", p.SrcPort, h.SrcPort},
		{"dst_port", p.DstPort, h.DstPort},
		{"ts_sec", p.TimeSec, h.TimeSec},
		{"ts_usec", p.TimeUsec, h.TimeUsec},
		{"proto_type", p.ProtoType, h.ProtoType},
		{"capture_id", p.NodeID, h.CaptureID},
		{"node_name", string(p.NodeName), h.NodeName},
		{"payload_len", len(p.Payload), h.PayloadLen},
		{"payload_first_line", firstLine, h.FirstLine},
		{"call_id", sipHeader(payload, "Call-ID", "i"), h.CallID},
		{"cseq", sipHeader(payload, "CSeq", ""), h.CSeq},
		{"chunk types", p.Seen, seenWant},
		{"kept chunks", fmt.Sprint(keptGot), fmt.Sprint(kept)},
		{"compressed", p.Compressed, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s frame %d: %s = %v, want %v", r.File, r.Frame, c.name, c.got, c.want)
		}
	}
}

// sipHeader returns the value of a SIP header (full or compact name), for
// checking decoded payloads only.
func sipHeader(msg, name, compact string) string {
	for _, line := range strings.Split(msg, "\r\n")[1:] {
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if ok && (strings.EqualFold(k, name) || (compact != "" && strings.EqualFold(k, compact))) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestDecodeRecordedFrames(t *testing.T) {
	for _, dir := range frameDirs {
		t.Run(dir, func(t *testing.T) {
			refs := readReferences(t, filepath.Join(testdataDir, dir, "frames.decoded.jsonl"))
			if len(refs) != 13 {
				t.Fatalf("%d reference decodes, want 13", len(refs))
			}
			for i := range refs {
				r := &refs[i]
				b, err := os.ReadFile(filepath.Join(testdataDir, dir, r.File))
				if err != nil {
					t.Fatal(err)
				}
				var p Packet
				if err := Decode(b, &p); err != nil {
					t.Fatalf("%s: %v", r.File, err)
				}
				if len(b) != r.HEP.Length || p.Trailing != 0 {
					t.Errorf("%s: %d bytes, %d trailing; want length %d", r.File, len(b), p.Trailing, r.HEP.Length)
				}
				checkReference(t, &p, r)
			}
		})
	}
}

// TestDecodeRecordedTCPStreams walks HEP3-over-TCP captures frame by frame
// using the 16-bit total length as the framing. Each frame is decoded with
// the rest of the stream behind it, which must count as trailing bytes.
func TestDecodeRecordedTCPStreams(t *testing.T) {
	for _, name := range tcpStreams {
		t.Run(name, func(t *testing.T) {
			stream, err := os.ReadFile(filepath.Join(testdataDir, name))
			if err != nil {
				t.Fatal(err)
			}
			refs := readReferences(t, filepath.Join(testdataDir, name+".decoded.jsonl"))
			n := 0
			for off := 0; off < len(stream); n++ {
				if len(stream)-off < 6 {
					t.Fatalf("frame %d: %d bytes left, want a 6-byte header", n+1, len(stream)-off)
				}
				size := int(binary.BigEndian.Uint16(stream[off+4:]))
				var p Packet
				if err := Decode(stream[off:], &p); err != nil {
					t.Fatalf("frame %d at offset %d: %v", n+1, off, err)
				}
				if want := len(stream) - off - size; p.Trailing != want {
					t.Errorf("frame %d: Trailing = %d, want %d", n+1, p.Trailing, want)
				}
				if n >= len(refs) {
					t.Fatalf("more frames than the %d reference decodes", len(refs))
				}
				if refs[n].Frame != n+1 || refs[n].HEP.Length != size {
					t.Errorf("frame %d: length %d, reference frame %d length %d", n+1, size, refs[n].Frame, refs[n].HEP.Length)
				}
				checkReference(t, &p, &refs[n])
				off += size
			}
			if n != 65 || len(refs) != 65 {
				t.Errorf("%d frames, %d reference decodes; want 65", n, len(refs))
			}
		})
	}
}

// recordedFrames returns every recorded frame: the single-frame files and
// the frames of the TCP streams.
func recordedFrames(tb testing.TB) [][]byte {
	tb.Helper()
	var frames [][]byte
	for _, dir := range frameDirs {
		files, err := filepath.Glob(filepath.Join(testdataDir, dir, "*.bin"))
		if err != nil || len(files) == 0 {
			tb.Fatalf("no frames in %s: %v", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			frames = append(frames, b)
		}
	}
	for _, name := range tcpStreams {
		stream, err := os.ReadFile(filepath.Join(testdataDir, name))
		if err != nil {
			tb.Fatal(err)
		}
		for len(stream) >= 6 {
			size := int(binary.BigEndian.Uint16(stream[4:]))
			if size < 6 || size > len(stream) {
				tb.Fatalf("%s: bad frame length %d", name, size)
			}
			frames = append(frames, bytes.Clone(stream[:size]))
			stream = stream[size:]
		}
	}
	return frames
}
