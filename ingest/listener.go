package ingest

import (
	"crypto/subtle"
	"log/slog"
	"sync/atomic"

	"github.com/hepd/hepd/hep"
)

// Listener is one address hepd receives on, as the pipeline sees it: what it
// demands of the messages that arrive there, and what it refused.
type Listener struct {
	// Name identifies the listener in logs and statistics (its configured
	// ip:port).
	Name string
	// AuthKey, when not empty, is the HEP capture password: every HEP
	// packet received here must carry it in its auth-key chunk (0x000e),
	// compared in constant time. HEPv1/v2 packets, which have no such chunk,
	// are then refused too.
	AuthKey []byte
	// RawSIP keeps raw SIP (SIP not inside HEP) accepted here when AuthKey
	// is set: the address is a SIP capture address, where SIP arrives as the
	// SIP element sent it, without a key. Without RawSIP a listener with a
	// key refuses raw SIP, so that a sender without the key cannot add rows.
	RawSIP bool

	authRejected atomic.Uint64
}

// AuthRejected is the number of messages refused for a missing or wrong
// auth key (or for being raw SIP on a listener that requires one).
func (l *Listener) AuthRejected() uint64 { return l.authRejected.Load() }

func (l *Listener) requiresKey() bool { return l != nil && len(l.AuthKey) > 0 }

// keyMatches compares a received auth key with the configured one in time
// that depends only on the configured key's length: a key of another
// length costs the same comparison as one of the right length.
func keyMatches(got, want []byte) bool {
	eq := subtle.ConstantTimeEq(int32(len(got)), int32(len(want)))
	other := want
	if eq == 1 {
		other = got
	}
	return subtle.ConstantTimeCompare(other, want)&eq == 1
}

// authorized checks a decoded HEP packet against its listener's key, and
// counts and logs (rate-limited) a refusal.
func (p *Pipeline) authorized(pkt *hep.Packet, src *Source) bool {
	l := src.Listener
	if !l.requiresKey() || pkt.Version == 3 && keyMatches(pkt.AuthKey, l.AuthKey) {
		return true
	}
	l.authRejected.Add(1)
	why := "wrong auth key"
	switch {
	case pkt.Version != 3:
		why = "HEPv1/v2 carries no auth key"
	case !pkt.Has(hep.ChunkAuthKey):
		why = "no auth key"
	}
	p.rl.Log(slog.LevelWarn, "hep-auth", "HEP packet refused: the listener requires an auth key (chunk 0x000e)",
		"reason", why, "listener", l.Name, "transport", src.Transport, "remote", src.Remote)
	return false
}

// rawSIPAllowed refuses raw SIP on a listener that requires a key and is
// not a SIP capture address.
func (p *Pipeline) rawSIPAllowed(src *Source) bool {
	l := src.Listener
	if !l.requiresKey() || l.RawSIP {
		return true
	}
	l.authRejected.Add(1)
	p.rl.Log(slog.LevelWarn, "sip-auth", "raw SIP refused: the listener requires HEP with an auth key",
		"listener", l.Name, "transport", src.Transport, "remote", src.Remote)
	return false
}
