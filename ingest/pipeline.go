package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hepd/hepd/hep"
	"github.com/hepd/hepd/ingest/sip"
	"github.com/hepd/hepd/internal/ratelog"
	"github.com/hepd/hepd/tcpstack"
)

// Options configure what the pipeline extracts.
type Options struct {
	// SIPKeys is the data_header key list for SIP rows (Homer's SIPHeader);
	// empty means sip.DefaultKeys().
	SIPKeys []sip.Key
	// ExtraHeaders are SIP headers copied into data_header under their
	// configured name when present (Homer's CustomHeader).
	ExtraHeaders []string
	// ALegHeaders name headers carrying the A-leg Call-ID (e.g. X-CID); the
	// first present becomes correlation_id when the agent sent none.
	ALegHeaders []string
	// ForceALegID prefers the A-leg header over the agent's correlation id.
	ForceALegID bool
	// MaxInflate caps the size of a decompressed payload (chunk 0x0010).
	MaxInflate int
	// RawCaptureID is the captureId of raw SIP rows (SIP that reached hepd
	// itself, not inside HEP): the capture agent is hepd.
	RawCaptureID string
	// Listeners are the addresses hepd receives on, in the order of the TCP
	// stack's Config.Listen: a frame's Listener index picks its entry. A
	// UDP source's UDPOptions.Listener should be one of them too, so that
	// Stats reports it.
	Listeners []*Listener
}

// Pipeline decodes frames and datagrams into records and writes them to an
// Output. It is safe for concurrent use: every caller (TCP worker, UDP
// reader) gets its own batch state from a pool.
type Pipeline struct {
	ctx    context.Context
	opts   Options
	keySet sip.KeySet  // what the parser must find for opts.SIPKeys
	fields []dataField // data_header members, in jsonb's order
	// fieldKeys is fields' keys when there is no custom header, as by
	// default: a loop over them costs the INVITE 72 instructions less
	// than one over fields (callgrind).
	fieldKeys []sip.Key
	parser    *sip.Parser
	out       Output
	outU      UnpausableOutput // out, if it is one; nil otherwise

	rawCaptureID []byte
	log          *slog.Logger
	rl           *ratelog.Logger
	pool         sync.Pool
	stats        counters
}

// New builds a pipeline writing to out. ctx bounds every Output.Write: it is
// cancelled only when hepd gives up on flushing.
func New(ctx context.Context, o Options, out Output, log *slog.Logger) (*Pipeline, error) {
	if len(o.SIPKeys) == 0 {
		o.SIPKeys = sip.DefaultKeys()
	}
	if o.RawCaptureID == "" {
		o.RawCaptureID = "hepd"
	}
	if o.MaxInflate <= 0 {
		o.MaxInflate = 64 << 10
	}
	parser, err := sip.NewParser(sip.Options{ExtraHeaders: o.ExtraHeaders, ALegHeaders: o.ALegHeaders})
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	p := &Pipeline{
		ctx:    ctx,
		opts:   o,
		keySet: sip.NewKeySet(o.SIPKeys),
		fields: dataFields(o.SIPKeys, o.ExtraHeaders),
		parser: parser,
		out:    out,
		log:    log,
		rl:     ratelog.New(log, 10*time.Second),

		rawCaptureID: []byte(o.RawCaptureID),
	}
	p.outU, _ = out.(UnpausableOutput)
	if len(o.ExtraHeaders) == 0 {
		for _, f := range p.fields {
			p.fieldKeys = append(p.fieldKeys, f.key)
		}
	}
	p.pool.New = func() any {
		return &batch{
			recs:  make([]Record, 0, 256),
			arena: make([]byte, 0, 256<<10),
		}
	}
	return p, nil
}

// batch is the per-caller state of one Deliver: the records it produced and
// the buffers their JSON lives in. Reused through the pool, so a steady
// stream of messages allocates nothing.
type batch struct {
	pkt     hep.Packet
	msg     sip.Message
	recs    []Record
	arena   []byte // JSON headers and cleaned payloads of this batch
	inflate []byte
	text    textCache

	// received and rawSIP count into the pipeline's counters at the
	// flush: one atomic add per batch rather than per message, on a
	// cache line every TCP worker and UDP reader shares.
	received, rawSIP uint64
}

func (p *Pipeline) get() *batch { return p.pool.Get().(*batch) }

func (p *Pipeline) put(b *batch) {
	b.recs = b.recs[:0]
	b.arena = b.arena[:0]
	p.pool.Put(b)
}

// Deliver implements tcpstack.Sink.
func (p *Pipeline) Deliver(frames []tcpstack.Frame) { p.DeliverChecked(frames, nil) }

// DeliverChecked implements tcpstack.CheckedSink: it reports the frames that
// could not be processed (undecodable HEP, SIP without start line, Call-ID
// or CSeq, an undecodable payload), to which the stack applies
// tcp_script_mode. Messages dropped by design (keep-alives, payload type 0,
// reports without correlation id) are not failures.
func (p *Pipeline) DeliverChecked(frames []tcpstack.Frame, failed []int) []int {
	b := p.get()
	defer p.put(b)
	for i := range frames {
		f := &frames[i]
		src := Source{Transport: TCP, Local: f.Local, Remote: f.Remote, RecvTime: f.RecvTime}
		if f.Listener >= 0 && f.Listener < len(p.opts.Listeners) {
			src.Listener = p.opts.Listeners[f.Listener]
		}
		ok := true
		switch f.Kind {
		case tcpstack.FrameHEP3:
			ok = p.handleHEP(b, f.Data, &src)
		case tcpstack.FrameSIP:
			ok = p.handleRawSIP(b, f.Data, &src)
		default:
			p.stats.unsupported.Add(1)
			p.rl.Log(slog.LevelWarn, "frame-kind", "frame kind not handled by this build; dropped",
				"kind", f.Kind, "remote", src.Remote)
		}
		if !ok {
			failed = append(failed, i)
		}
	}
	p.flush(b)
	return failed
}

// flush hands the batch's records to the output.
func (p *Pipeline) flush(b *batch) { p.flushTo(b, false) }

// flushUnpausable flushes the records of a reader that cannot be paused
// (UnpausableOutput).
func (p *Pipeline) flushUnpausable(b *batch) { p.flushTo(b, true) }

func (p *Pipeline) flushTo(b *batch, unpausable bool) {
	if b.received > 0 {
		p.stats.received.Add(b.received)
		b.received = 0
	}
	if b.rawSIP > 0 {
		p.stats.rawSIP.Add(b.rawSIP)
		b.rawSIP = 0
	}
	if len(b.recs) == 0 {
		return
	}
	var err error
	if unpausable && p.outU != nil {
		err = p.outU.WriteUnpausable(p.ctx, b.recs)
	} else {
		err = p.out.Write(p.ctx, b.recs)
	}
	if err != nil {
		p.stats.outputErrors.Add(uint64(len(b.recs)))
		p.rl.Log(slog.LevelError, "output", "records could not be handed to the store",
			"records", len(b.recs), "err", err)
		return
	}
	p.stats.records.Add(uint64(len(b.recs)))
}

// handleHEP decodes one HEP packet and appends its record to b, or counts why
// there is none. It reports false when the packet could not be processed.
func (p *Pipeline) handleHEP(b *batch, data []byte, src *Source) bool {
	b.received++
	pkt := &b.pkt
	err := hep.Decode(data, pkt)
	keepAlive := errors.Is(err, hep.ErrKeepAlive)
	if err != nil && !keepAlive {
		p.stats.malformed(err)
		p.rl.Log(slog.LevelWarn, "hep:"+err.Error(), "malformed HEP packet dropped",
			"err", err, "transport", src.Transport, "remote", src.Remote, "bytes", len(data))
		return false
	}
	// Keep-alives too: a sender without the key must not keep a
	// connection alive either.
	if !p.authorized(pkt, src) {
		return false
	}
	if src.Listener.requiresKey() {
		// A checked key is a secret: it is not copied into every row as
		// capturePass, where whoever reads captures would find it.
		pkt.AuthKey = nil
	}
	if keepAlive {
		p.stats.keepAlives.Add(1)
		return true
	}
	payload := pkt.Payload
	if pkt.Compressed {
		out, err := hep.Inflate(b.inflate[:0], payload, p.opts.MaxInflate)
		if err != nil {
			p.stats.badPayload.Add(1)
			p.rl.Log(slog.LevelWarn, "inflate", "compressed HEP payload could not be inflated",
				"err", err, "remote", src.Remote)
			return false
		}
		b.inflate = out
		payload = out
	}
	if pkt.ProtoType != 1 {
		// A SIP payload is checked by the parser, in its pass over it.
		payload, b.arena = cleanText(payload, b.arena)
	}
	if len(payload) == 0 {
		p.stats.noPayload.Add(1)
		return true
	}
	created, fix := hep.CaptureTime(pkt, src.RecvTime)
	if fix != hep.TimeOK {
		p.stats.timeFixed.Add(1)
	}

	switch pt := pkt.ProtoType; {
	case pt == 0:
		p.stats.filtered.Add(1)
		return true
	case pt == 1:
		return p.sipRecord(b, payload, created, src)
	case pt == 54:
		return p.isupRecord(b, payload, created, src)
	default:
		p.correlatedRecord(b, payload, created, src)
		return true
	}
}

// handleRawSIP stores a SIP message that was sent to hepd itself (a proxy or
// SBC mirroring its SIP, SIPp pointed at hepd): its addresses are the
// connection's or datagram's — the PROXY-protocol source where one was given
// — and its capture time is the receive time. It reports false for a
// message it refuses (a listener that requires a key) or that is not SIP,
// so the TCP stack can apply tcp_script_mode; one of NUL bytes only is
// counted as no payload, as a HEP payload is.
func (p *Pipeline) handleRawSIP(b *batch, data []byte, src *Source) bool {
	b.rawSIP++
	if !p.rawSIPAllowed(src) {
		return false
	}
	pkt := &b.pkt
	*pkt = hep.Packet{
		Version: 3, ProtoType: 1, NodeName: p.rawCaptureID,
		SrcIP: src.Remote.Addr().Unmap(), SrcPort: src.Remote.Port(),
		DstIP: src.Local.Addr().Unmap(), DstPort: src.Local.Port(),
		Protocol: 6,
	}
	if src.Transport == UDP {
		pkt.Protocol = 17
	}
	return p.sipRecord(b, data, src.RecvTime.UTC(), src)
}

// captureID returns the Homer captureId value: the node name if sent, else
// the decimal node id.
func captureID(dst []byte, pkt *hep.Packet) []byte {
	if len(pkt.NodeName) > 0 {
		return append(dst, pkt.NodeName...)
	}
	id := pkt.NodeID
	// captagent, hepipe and sngrep write htons(id) into the 4-byte field, so
	// id 2001 arrives as 0x07d10000 (hep3.md §4, chunk 0x000c): a value
	// whose low half is zero and high half is not is read as the high half.
	if id&0xffff == 0 && id>>16 != 0 {
		id >>= 16
	}
	return appendUint(dst, uint64(id))
}

// appendProtocolHeader writes the protocol_header object of homer-schema.md
// §5.1 with exactly Homer's keys.
func appendProtocolHeader(dst []byte, tc *textCache, pkt *hep.Packet, created time.Time, capID, correlation []byte) []byte {
	family := uint64(pkt.Family)
	// The address chunks decide the family (hep3.md V16): BSD senders write
	// their own AF_INET6 value into chunk 0x0001.
	switch {
	case pkt.SrcIP.Is4() || pkt.DstIP.Is4():
		family = 2
	case pkt.SrcIP.Is6() || pkt.DstIP.Is6():
		family = 10
	}
	// Homer's keys in jsonb's order (see jsonbCompare).
	dst = append(dst, `{"dstIp":`...)
	dst = tc.appendAddr(dst, pkt.DstIP)
	dst = append(dst, `,"srcIp":`...)
	dst = tc.appendAddr(dst, pkt.SrcIP)
	dst = append(dst, `,"dstPort":`...)
	dst = appendUint(dst, uint64(pkt.DstPort))
	dst = append(dst, `,"srcPort":`...)
	dst = appendUint(dst, uint64(pkt.SrcPort))
	dst = append(dst, `,"protocol":`...)
	dst = appendUint(dst, uint64(pkt.Protocol))
	dst = append(dst, `,"captureId":`...)
	dst = appendJSONString(dst, capID)
	if len(pkt.AuthKey) > 0 {
		dst = append(dst, `,"capturePass":`...)
		dst = appendJSONString(dst, pkt.AuthKey)
	}
	dst = append(dst, `,"payloadType":`...)
	dst = appendUint(dst, uint64(pkt.ProtoType))
	dst = append(dst, `,"timeSeconds":`...)
	dst = tc.appendSec(dst, created.Unix())
	dst = append(dst, `,"timeUseconds":`...)
	dst = appendUint(dst, uint64(created.Nanosecond()/1000))
	dst = append(dst, `,"correlation_id":`...)
	dst = appendJSONString(dst, correlation)
	dst = append(dst, `,"protocolFamily":`...)
	dst = appendUint(dst, family)
	return append(dst, '}')
}

// sipRecord routes a SIP message by its CSeq method (homer-schema.md §4); it
// reports false for a message that does not parse. The payload is stored
// as text: the parser tells whether it is clean (valid UTF-8 without NUL),
// and one that is not is cleaned and parsed again.
func (p *Pipeline) sipRecord(b *batch, payload []byte, created time.Time, src *Source) bool {
	msg := &b.msg
	err := p.parser.ParseKeySet(payload, msg, p.keySet)
	if !msg.Clean {
		if payload, b.arena = cleanText(payload, b.arena); len(payload) == 0 {
			p.stats.noPayload.Add(1)
			return true
		}
		err = p.parser.ParseKeySet(payload, msg, p.keySet)
	}
	if err != nil {
		p.stats.sipInvalid.Add(1)
		p.rl.Log(slog.LevelWarn, "sip:"+err.Error(), "SIP payload not stored",
			"err", err, "transport", src.Transport, "remote", src.Remote)
		return false
	}
	var table string
	switch sip.Profile(msg.CSeqMethod) {
	case "call":
		table = TableSIPCall
	case "registration":
		table = TableSIPRegistration
	default:
		table = TableSIPDefault
	}
	pkt := &b.pkt
	correlation := pkt.CorrelationID
	if len(msg.ALeg) > 0 && (len(correlation) == 0 || p.opts.ForceALegID) {
		correlation = msg.ALeg
	}
	if len(correlation) == 0 {
		correlation = msg.CallID
	}

	start := len(b.arena)
	b.arena = captureID(b.arena, pkt)
	capID := b.arena[start:]

	phStart := len(b.arena)
	b.arena = appendProtocolHeader(b.arena, &b.text, pkt, created, capID, correlation)
	ph := b.arena[phStart:]

	dhStart := len(b.arena)
	b.arena = p.appendDataHeader(b.arena, msg)
	dh := b.arena[dhStart:]

	b.recs = append(b.recs, Record{
		Table: table, SID: msg.CallID, CreateDate: created,
		ProtocolHeader: ph, DataHeader: dh, Raw: payload,
	})
	return true
}

// appendDataHeader writes a SIP row's data_header: the configured keys and
// the custom headers present in the message, in p.fields' order. Every
// member is written with a leading comma; the first one's becomes the
// opening brace.
func (p *Pipeline) appendDataHeader(dst []byte, msg *sip.Message) []byte {
	start := len(dst)
	if p.fieldKeys != nil {
		for _, k := range p.fieldKeys {
			dst = appendSIPField(dst, k, msg.Field(k))
		}
	} else {
		for _, f := range p.fields {
			if f.key != 0 {
				dst = appendSIPField(dst, f.key, msg.Field(f.key))
			} else if v := msg.Extra[f.extra]; v != nil {
				dst = append(dst, ',')
				dst = appendJSONStr(dst, f.name)
				dst = append(dst, ':')
				dst = appendJSONString(dst, v)
			}
		}
	}
	if len(dst) == start {
		return append(dst, "{}"...)
	}
	dst[start] = '{'
	return append(dst, '}')
}

// dataField is a member of a SIP data_header: a Homer key, or (key 0) the
// custom header ExtraHeaders[extra].
type dataField struct {
	key   sip.Key
	extra int
	name  string
}

// dataFields lists the members of a SIP data_header in jsonb's order of
// keys (see jsonbCompare). The sort is stable and the custom headers come
// after the keys, so a custom header named as a key still wins, as jsonb
// keeps the last of equal keys.
func dataFields(keys []sip.Key, extra []string) []dataField {
	fs := make([]dataField, 0, len(keys)+len(extra))
	for _, k := range keys {
		fs = append(fs, dataField{key: k, name: k.String()})
	}
	for i, name := range extra {
		fs = append(fs, dataField{extra: i, name: name})
	}
	slices.SortStableFunc(fs, func(a, b dataField) int { return jsonbCompare(a.name, b.name) })
	return fs
}

// protoLabel is the data_header "proto" value heplify-server writes.
func appendProtoLabel(dst []byte, t uint8) []byte {
	switch t {
	case 5:
		return append(dst, "rtcp"...)
	case 34:
		return append(dst, "rtpagent"...)
	case 35:
		return append(dst, "rtcpxr"...)
	case 38:
		return append(dst, "horaclifix"...)
	case 53:
		return append(dst, "dns"...)
	case 100:
		return append(dst, "log"...)
	}
	return strconv.AppendUint(dst, uint64(t), 10)
}

// correlatedRecord stores RTCP, DNS, logs and reports: they are only
// findable through their correlation id, so without one they are dropped
// and counted, as Homer does (homer-schema.md §4 rule 4).
func (p *Pipeline) correlatedRecord(b *batch, payload []byte, created time.Time, src *Source) {
	pkt := &b.pkt
	if len(pkt.CorrelationID) == 0 {
		p.stats.noCorrelation.Add(1)
		p.rl.Log(slog.LevelInfo, "nocorr", "non-SIP HEP packet without correlation id not stored",
			"payload_type", pkt.ProtoType, "remote", src.Remote)
		return
	}
	var table string
	switch pkt.ProtoType {
	case 5:
		table = TableRTCP
	case 53:
		table = TableDNS
	case 100:
		table = TableLog
	default:
		table = TableReport
	}
	p.appendSimple(b, table, pkt.CorrelationID, payload, created)
}

// appendSimple appends a record whose data_header is {"node","proto"}.
func (p *Pipeline) appendSimple(b *batch, table string, sid, payload []byte, created time.Time) {
	pkt := &b.pkt
	start := len(b.arena)
	b.arena = captureID(b.arena, pkt)
	capID := b.arena[start:]
	phStart := len(b.arena)
	b.arena = appendProtocolHeader(b.arena, &b.text, pkt, created, capID, pkt.CorrelationID)
	ph := b.arena[phStart:]
	dhStart := len(b.arena)
	b.arena = append(b.arena, `{"node":`...)
	b.arena = appendJSONString(b.arena, capID)
	b.arena = append(b.arena, `,"proto":"`...)
	b.arena = appendProtoLabel(b.arena, pkt.ProtoType)
	b.arena = append(b.arena, `"}`...)
	b.recs = append(b.recs, Record{
		Table: table, SID: sid, CreateDate: created,
		ProtocolHeader: ph, DataHeader: b.arena[dhStart:], Raw: payload,
	})
}

// isupMessage is the part of an ISUP JSON report Homer indexes (§5.4).
type isupMessage struct {
	CIC           int64                `json:"cic"`
	DPC           int64                `json:"dpc"`
	OPC           int64                `json:"opc"`
	MsgName       string               `json:"msg_name"`
	CalledNumber  struct{ Num string } `json:"called_number"`
	CallingNumber struct{ Num string } `json:"calling_number"`
}

// isupRecord stores an M3UA/ISUP JSON report with its Homer data_header;
// sid is "<low pc>:<high pc>:<cic>". ISUP is rare, so encoding/json is fine.
func (p *Pipeline) isupRecord(b *batch, payload []byte, created time.Time, src *Source) bool {
	var m isupMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		p.stats.badPayload.Add(1)
		p.rl.Log(slog.LevelWarn, "isup", "ISUP payload is not valid JSON; not stored",
			"err", err, "remote", src.Remote)
		return false
	}
	pkt := &b.pkt
	lo, hi := m.OPC, m.DPC
	if hi < lo {
		lo, hi = hi, lo
	}
	sidStart := len(b.arena)
	b.arena = strconv.AppendInt(b.arena, lo, 10)
	b.arena = append(b.arena, ':')
	b.arena = strconv.AppendInt(b.arena, hi, 10)
	b.arena = append(b.arena, ':')
	b.arena = strconv.AppendInt(b.arena, m.CIC, 10)
	sid := b.arena[sidStart:]

	start := len(b.arena)
	b.arena = captureID(b.arena, pkt)
	capID := b.arena[start:]
	correlation := pkt.CorrelationID
	if len(correlation) == 0 {
		correlation = sid
	}
	phStart := len(b.arena)
	b.arena = appendProtocolHeader(b.arena, &b.text, pkt, created, capID, correlation)
	ph := b.arena[phStart:]

	dhStart := len(b.arena)
	b.arena = append(b.arena, `{"cic":`...) // in jsonb's order
	b.arena = strconv.AppendInt(b.arena, m.CIC, 10)
	b.arena = append(b.arena, `,"dpc":`...)
	b.arena = strconv.AppendInt(b.arena, m.DPC, 10)
	b.arena = append(b.arena, `,"opc":`...)
	b.arena = strconv.AppendInt(b.arena, m.OPC, 10)
	b.arena = append(b.arena, `,"callid":`...)
	b.arena = appendJSONString(b.arena, sid)
	b.arena = append(b.arena, `,"msg_name":`...)
	b.arena = appendJSONString(b.arena, []byte(m.MsgName))
	b.arena = append(b.arena, `,"called_number":`...)
	b.arena = appendJSONString(b.arena, []byte(m.CalledNumber.Num))
	b.arena = append(b.arena, `,"calling_number":`...)
	b.arena = appendJSONString(b.arena, []byte(m.CallingNumber.Num))
	b.arena = append(b.arena, '}')
	b.recs = append(b.recs, Record{
		Table: TableISUP, SID: sid, CreateDate: created,
		ProtocolHeader: ph, DataHeader: b.arena[dhStart:], Raw: payload,
	})
	return true
}

// counters are the pipeline's totals; the hot path only does atomic adds.
type counters struct {
	received, records, keepAlives, noPayload, filtered, sipInvalid, noCorrelation,
	badPayload, timeFixed, unsupported, outputErrors, rawSIP atomic.Uint64
	malformedBy sync.Map // reason string → *atomic.Uint64
}

func (c *counters) malformed(err error) {
	// Sentinel errors' Error() returns a constant: no allocation per call.
	v, ok := c.malformedBy.Load(err.Error())
	if !ok {
		v, _ = c.malformedBy.LoadOrStore(err.Error(), new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// Stats is a snapshot of the pipeline's counters.
type Stats struct {
	Received      uint64            // HEP packets and frames seen
	RawSIP        uint64            // raw SIP messages seen (not inside HEP)
	Records       uint64            // records handed to the output
	KeepAlives    uint64            // HEP keep-alive packets (dropped silently)
	Malformed     map[string]uint64 // undecodable HEP, by reason
	NoPayload     uint64            // HEP packets with an empty payload
	Filtered      uint64            // payload type 0
	SIPInvalid    uint64            // SIP payloads without a start line, Call-ID or CSeq
	NoCorrelation uint64            // non-SIP packets without a correlation id
	BadPayload    uint64            // undecodable compressed or ISUP payloads
	TimeFixed     uint64            // capture timestamps replaced or corrected
	Unsupported   uint64            // frames of a kind this build does not handle
	OutputErrors  uint64            // records the output refused
	// AuthRejected counts, per listener that requires an auth key, the HEP
	// packets refused for a missing or wrong key and the raw SIP refused
	// there (not stored).
	AuthRejected map[string]uint64
}

// Stats returns a snapshot of the counters.
func (p *Pipeline) Stats() Stats {
	c := &p.stats
	s := Stats{
		Received: c.received.Load(), RawSIP: c.rawSIP.Load(), Records: c.records.Load(), KeepAlives: c.keepAlives.Load(),
		NoPayload: c.noPayload.Load(), Filtered: c.filtered.Load(), SIPInvalid: c.sipInvalid.Load(),
		NoCorrelation: c.noCorrelation.Load(), BadPayload: c.badPayload.Load(),
		TimeFixed: c.timeFixed.Load(), Unsupported: c.unsupported.Load(),
		OutputErrors: c.outputErrors.Load(),
		Malformed:    map[string]uint64{},
		AuthRejected: map[string]uint64{},
	}
	for _, l := range p.opts.Listeners {
		if l.requiresKey() {
			s.AuthRejected[l.Name] += l.AuthRejected()
		}
	}
	c.malformedBy.Range(func(k, v any) bool {
		s.Malformed[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return s
}
