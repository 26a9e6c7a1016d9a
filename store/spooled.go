package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/hepd/hepd/store/spool"
)

// A spooled batch is one spool record:
//
//	version  uint8 (1)
//	table    uint8  index into tables
//	flags    uint8  bit 0: maybe committed as (id, seq) already
//	[idLen uint8, id, seq uint64]  when bit 0 is set
//	rows     uint32
//	rows × { create_date int64 (Unix µs), sid, protocol_header, data_header, raw uint32 lengths }
//	the fields' bytes, row after row
//
// little-endian. The fields are stored exactly as Add received them.
const (
	spoolVersion = 1
	flagMaybe    = 1 << 0
	spoolRowHdr  = 8 + 4*4
)

var errSpooledRecord = errors.New("store: damaged spooled batch")

// mark names one COPY attempt in hepd_progress: the writer session (or
// spool) id and its sequence number.
type mark struct {
	id  string
	seq int64

	// pieces, for a replayed record, is the id under which the pieces of
	// a split (see writer.isolate) commit how many of its rows are
	// settled, so that a crash in the middle of one resumes after them.
	// Empty for live batches: their pieces take the writer's own marks.
	pieces string
}

// appendSpooled encodes rows sel of b after dst, which must hold the
// spool's header room already.
func appendSpooled(dst []byte, b *batch, sel []int32, maybe *mark) []byte {
	flags := byte(0)
	if maybe != nil {
		flags |= flagMaybe
	}
	dst = append(dst, spoolVersion, byte(b.table), flags)
	if maybe != nil {
		dst = append(dst, byte(len(maybe.id)))
		dst = append(dst, maybe.id...)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(maybe.seq))
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(sel)))
	for _, i := range sel {
		sid, ph, dh, raw := b.fields(i)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(b.rows[i].us))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(sid)))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ph)))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(dh)))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(raw)))
	}
	for _, i := range sel {
		sid, ph, dh, raw := b.fields(i)
		dst = append(dst, sid...)
		dst = append(dst, ph...)
		dst = append(dst, dh...)
		dst = append(dst, raw...)
	}
	return dst
}

// decodeSpooled fills b with the spooled batch p and returns the mark it
// may have been committed under.
func decodeSpooled(p []byte, b *batch) (maybe *mark, err error) {
	if len(p) < 3+4 {
		return nil, fmt.Errorf("%w: %d bytes", errSpooledRecord, len(p))
	}
	if p[0] != spoolVersion {
		return nil, fmt.Errorf("%w: version %d (this hepd reads %d)", errSpooledRecord, p[0], spoolVersion)
	}
	if int(p[1]) >= len(tables) {
		return nil, fmt.Errorf("%w: table %d", errSpooledRecord, p[1])
	}
	b.reset()
	b.table = int(p[1])
	flags := p[2]
	p = p[3:]
	if flags&^flagMaybe != 0 {
		return nil, fmt.Errorf("%w: flags %#x", errSpooledRecord, flags)
	}
	if flags&flagMaybe != 0 {
		if len(p) < 1 || len(p) < 1+int(p[0])+8 {
			return nil, fmt.Errorf("%w: short mark", errSpooledRecord)
		}
		n := int(p[0])
		maybe = &mark{id: string(p[1 : 1+n]), seq: int64(binary.LittleEndian.Uint64(p[1+n:]))}
		p = p[1+n+8:]
	}
	if len(p) < 4 {
		return nil, fmt.Errorf("%w: no row count", errSpooledRecord)
	}
	n := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if uint64(n)*spoolRowHdr > uint64(len(p)) {
		return nil, fmt.Errorf("%w: %d rows in %d bytes", errSpooledRecord, n, len(p))
	}
	hdr, data := p[:n*spoolRowHdr], p[n*spoolRowHdr:]
	// Check every length before copying anything.
	var total uint64
	for i := range int(n) {
		h := hdr[i*spoolRowHdr+8:]
		for f := range 4 {
			total += uint64(binary.LittleEndian.Uint32(h[4*f:]))
		}
	}
	if total != uint64(len(data)) {
		return nil, fmt.Errorf("%w: rows need %d bytes, %d there", errSpooledRecord, total, len(data))
	}
	b.buf = slices.Grow(b.buf, len(data)+int(n)*40)
	var fs [4][]byte
	for i := range int(n) {
		h := hdr[i*spoolRowHdr:]
		us := int64(binary.LittleEndian.Uint64(h))
		for f := range 4 {
			l := binary.LittleEndian.Uint32(h[8+4*f:])
			fs[f], data = data[:l], data[l:]
		}
		b.addFields(us, fs[0], fs[1], fs[2], fs[3])
	}
	return maybe, nil
}

// spoolRows writes rows sel of b to the spool. It returns false when the
// spool is full or failed (the caller keeps the rows).
func (s *Store) spoolRows(b *batch, sel []int32, maybe *mark) bool {
	if s.spool == nil {
		return false
	}
	s.spoolMu.Lock()
	defer s.spoolMu.Unlock()
	s.spoolBuf = appendSpooled(append(s.spoolBuf[:0], make([]byte, spool.HeaderSize)...), b, sel, maybe)
	err := s.spool.Append(s.spoolBuf, len(sel))
	if len(s.spoolBuf) > 16<<20 {
		s.spoolBuf = nil // one huge batch must not pin its size
	}
	if err != nil {
		if !errors.Is(err, spool.ErrFull) {
			s.rlog.Log(slog.LevelError, "spool:append", "store: cannot write to the spool", "dir", s.spool.Dir(), "err", err)
		} else {
			s.rlog.Log(slog.LevelWarn, "spool:full", "store: spool full, holding rows in memory (readers pause when db_max_pending is reached)",
				"dir", s.spool.Dir(), "rows", len(sel))
		}
		return false
	}
	s.stats.spooled.Add(uint64(len(sel)))
	return true
}
