package tcpstack

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// maxAliases is how many Via alias ports a connection may hold besides its
// remote address: Kamailio's 12 alias entries, 3 per address (spec §5.2).
const maxAliases = 3

// entry is the part of a connection other goroutines may see: its place in
// the connection table, and its write side. Everything about reading stays
// in conn, which only the owning worker touches.
type entry struct {
	id       uint64
	w        *worker
	c        *conn // dereferenced by the owning worker only
	outbound bool
	listener int16          // index in Config.Listen of the accepting listener; -1 when outbound
	peer     netip.AddrPort // the socket's peer (the proxy, with PROXY)
	created  instant

	// Guarded by table.mu.
	local, remote netip.AddrPort // effective addresses (PROXY applied)
	proxied       bool
	aliases       []netip.AddrPort
	listed        bool // in the table (false once removed)

	lastWrite atomic.Int64 // unix ns of the last send attempt (tcp_connection_lifetime)
	sendLife  atomic.Int64 // tcp_connection_lifetime in effect at that send (ns; < 0: never)
	bytesOut  atomic.Uint64
	writes    atomic.Uint64 // successful writes
	closing   atomic.Uint32 // closeReason+1 once the owner has begun closing

	// The write side, guarded by wmu: the socket (so a writer never uses a
	// descriptor that was closed and reused), the queue and its deadline.
	wmu      sync.Mutex
	fd       int
	closed   bool        // fd closed, or about to be: writes fail
	ws       *wside      // the queue; nil while nothing is queued
	failWhy  closeReason // set with closed by a writer that failed the connection
	wantSent bool        // an opWant command is on its way to the worker
}

// table is the stack's connection table: by id, and by address (the remote
// address and the aliases) for Lookup, Dial and tcp_accept_unique.
type table struct {
	mu     sync.RWMutex
	byID   map[uint64]*entry
	byAddr map[netip.AddrPort][]*entry // newest registration last
	// perIP counts the listed inbound connections by their socket peer's
	// IP (before PROXY): tcp_accept_iplimit. An IP with none has no key.
	perIP map[netip.Addr]int32
}

func newTable() *table {
	return &table{byID: make(map[uint64]*entry), byAddr: make(map[netip.AddrPort][]*entry), perIP: make(map[netip.Addr]int32)}
}

// ipFull reports whether ip holds limit inbound connections or more
// (tcp_accept_iplimit; 0 means no limit). Only the acceptor lists inbound
// connections, so the answer stays true until it lists another.
func (t *table) ipFull(ip netip.Addr, limit int) bool {
	if limit <= 0 {
		return false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return int(t.perIP[ip]) >= limit
}

// insert lists e under its id and remote address. With unique set it
// refuses (and lists nothing) when a live connection has the same remote
// and local address: tcp_accept_unique.
func (t *table) insert(e *entry, unique bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if unique && t.duplicateLocked(e, e.remote, e.local) {
		return false
	}
	t.byID[e.id] = e
	t.addKeyLocked(e.remote, e)
	if !e.outbound {
		t.perIP[e.peer.Addr()]++
	}
	e.listed = true
	return true
}

func (t *table) duplicateLocked(self *entry, remote, local netip.AddrPort) bool {
	for _, o := range t.byAddr[remote] {
		if o != self && o.remote == remote && o.local == local {
			return true
		}
	}
	return false
}

func (t *table) addKeyLocked(k netip.AddrPort, e *entry) {
	t.byAddr[k] = append(t.byAddr[k], e)
}

func (t *table) delKeyLocked(k netip.AddrPort, e *entry) {
	l := t.byAddr[k]
	if i := slices.Index(l, e); i >= 0 {
		l = slices.Delete(l, i, i+1)
	}
	if len(l) == 0 {
		delete(t.byAddr, k)
	} else {
		t.byAddr[k] = l
	}
}

// proxied re-keys e under the addresses of its PROXY header, refusing a
// duplicate when unique is set (the check runs on the proxied addresses, as
// in Kamailio).
func (t *table) proxied(e *entry, remote, local netip.AddrPort, unique bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if unique && t.duplicateLocked(e, remote, local) {
		return false
	}
	t.delKeyLocked(e.remote, e)
	e.remote, e.local, e.proxied = remote, local, true
	t.addKeyLocked(remote, e)
	return true
}

// alias registers another address of e (tcp_accept_aliases); it reports
// whether the alias is new. An alias another connection holds is added
// anyway and found first (Kamailio's default FORCE_ADD).
func (t *table) alias(e *entry, a netip.AddrPort) (added bool, full bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !e.listed || a == e.remote || slices.Contains(e.aliases, a) {
		return false, false
	}
	if len(e.aliases) >= maxAliases {
		return false, true
	}
	e.aliases = append(e.aliases, a)
	t.addKeyLocked(a, e)
	return true, false
}

func (t *table) remove(e *entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !e.listed {
		return
	}
	e.listed = false
	if !e.outbound {
		ip := e.peer.Addr()
		if n := t.perIP[ip] - 1; n > 0 {
			t.perIP[ip] = n
		} else {
			delete(t.perIP, ip)
		}
	}
	delete(t.byID, e.id)
	t.delKeyLocked(e.remote, e)
	for _, a := range e.aliases {
		t.delKeyLocked(a, e)
	}
}

func (t *table) get(id uint64) *entry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byID[id]
}

// lookup finds a live connection to addr (tcp_connection_match, see
// Config.ConnectionMatch): with strict set, first one whose local port is
// sendPort, then the one registered for addr most recently.
func (t *table) lookup(addr netip.AddrPort, strict bool, sendPort uint16) *entry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	l := t.byAddr[addr]
	if strict {
		for i := len(l) - 1; i >= 0; i-- {
			if l[i].local.Port() == sendPort {
				return l[i]
			}
		}
	}
	if len(l) == 0 {
		return nil
	}
	return l[len(l)-1]
}

// addrs returns the effective addresses and aliases of e.
func (t *table) addrs(e *entry) (local, remote netip.AddrPort, proxied bool, aliases []netip.AddrPort) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return e.local, e.remote, e.proxied, slices.Clone(e.aliases)
}

// wside is a connection's write queue. Most connections (agents that only
// send) never queue a byte, so it is allocated on the first queued write and
// dropped when the queue drains with nobody waiting: an idle connection
// does not pay for it.
type wside struct {
	q       wqueue   // data the socket did not take yet
	qDead   instant  // tcp_send_timeout deadline while q is not empty
	waiters []waiter // blocking writes (tcp_async=no) handed to the worker
	enq     uint64   // bytes ever queued
	written uint64   // bytes ever written from the queue
}

// queued is how many bytes wait in e's queue. Call with e.wmu held.
func (e *entry) queued() int {
	if e.ws == nil {
		return 0
	}
	return e.ws.q.n
}

// wside returns e's write queue, making it if needed. Call with e.wmu held.
func (e *entry) wside() *wside {
	if e.ws == nil {
		e.ws = new(wside)
	}
	return e.ws
}
