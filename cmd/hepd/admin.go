package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hepd/hepd/tcpstack"
)

// adminHandler serves the admin API: /healthz, /api/v1/stats (JSON) and
// /metrics (Prometheus). It listens on loopback unless configured otherwise.
func (s *server) adminHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(statsCollector{s})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/v1/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.stats())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/tcp/info", func(w http.ResponseWriter, _ *http.Request) {
		if s.tcp == nil {
			writeError(w, http.StatusNotFound, "TCP is disabled (disable_tcp=yes)")
			return
		}
		writeJSON(w, s.tcp.Stats())
	})
	mux.HandleFunc("GET /api/v1/tcp/list", func(w http.ResponseWriter, _ *http.Request) {
		if s.tcp == nil {
			writeError(w, http.StatusNotFound, "TCP is disabled (disable_tcp=yes)")
			return
		}
		conns := s.tcp.Conns()
		out := make([]connView, 0, len(conns))
		for _, c := range conns {
			out = append(out, newConnView(c))
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("GET /api/v1/cfg", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.cfgValues())
	})
	mux.HandleFunc("PUT /api/v1/cfg/{name}", s.setCfg)
	// Profiling on the admin listener (loopback by default), so a running
	// capture can be profiled: go tool pprof http://127.0.0.1:9096/debug/pprof/profile
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	if s.cfg.AdminToken == "" {
		return mux
	}
	return requireToken(string(s.cfg.AdminToken), mux)
}

// cfgValues is every parameter's value in effect: the runtime-changeable
// tcp_* ones as the stack has them now, the others as configured.
func (s *server) cfgValues() map[string]cfgValue {
	out := map[string]cfgValue{}
	for _, p := range params() {
		if p.secret() {
			continue // secrets stay out of the API
		}
		out[p.name] = cfgValue{Value: p.get(&s.cfg)}
	}
	if s.tcp != nil {
		for name, v := range s.tcp.GetParams() {
			out[name] = cfgValue{Value: v}
		}
		for _, name := range tcpstack.RuntimeNames() {
			v := out[name]
			v.Runtime = true
			out[name] = v
		}
	}
	return out
}

// setCfg changes one parameter at runtime, as Kamailio's cfg.set_now_int
// does; parameters Kamailio reads only at start-up answer "needs restart".
func (s *server) setCfg(w http.ResponseWriter, r *http.Request) {
	name := canonicalParam(r.PathValue("name"))
	var body struct{ Value *string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Value == nil {
		writeError(w, http.StatusBadRequest, `body must be {"value": "..."}`)
		return
	}
	known := slices.ContainsFunc(params(), func(p param) bool { return p.name == name })
	switch {
	case s.tcp != nil && slices.Contains(tcpstack.ParamNames(), name):
		old, now, err := s.tcp.SetParam(name, *body.Value)
		switch {
		case errors.Is(err, tcpstack.ErrNeedsRestart):
			writeError(w, http.StatusConflict, err.Error()+": needs restart")
		case err != nil:
			writeError(w, http.StatusBadRequest, err.Error())
		default:
			s.log.Info("parameter changed at runtime", "name", name, "old", old, "new", now)
			writeJSON(w, map[string]string{"name": name, "old": old, "new": now})
		}
	case known || slices.Contains(tcpstack.ParamNames(), name):
		writeError(w, http.StatusConflict, name+": can only be changed by a restart: needs restart")
	default:
		writeError(w, http.StatusNotFound, "unknown parameter "+strconv.Quote(name))
	}
}

// requireToken lets a request through only with "Authorization: Bearer
// <token>"; the comparison takes constant time.
func requireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, http.StatusUnauthorized, "admin API token required (hepd ctl -token, or HEPD_ADMIN_TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// stats gathers every part's counters; it is what /api/v1/stats returns and
// what /metrics exports.
func (s *server) stats() map[string]any {
	out := map[string]any{
		"ingest": s.pipe.Stats(),
		"store":  s.store.Stats(),
		"udp":    s.udpStats(),
	}
	if s.tcp != nil {
		out["tcp"] = s.tcp.Stats()
	}
	return out
}

// udpStats are the UDP sockets' figures.
type udpStats struct {
	Datagrams uint64 // datagrams read, all sockets
	// SocketDrops is the kernel's drop counter of each UDP socket, by
	// listen address (datagrams discarded because the receive buffer,
	// udp_rcvbuf, was full); null where the kernel's figure cannot be read,
	// with the reason in SocketDropsUnavailable.
	SocketDrops            map[string]*uint64
	SocketDropsUnavailable map[string]string `json:",omitempty"`
}

func (s *server) udpStats() udpStats {
	st := udpStats{Datagrams: s.udpDatagrams(), SocketDrops: map[string]*uint64{}}
	for _, u := range s.udp {
		name := u.Addr().String()
		n, err := u.SocketDrops()
		if err != nil {
			if st.SocketDropsUnavailable == nil {
				st.SocketDropsUnavailable = map[string]string{}
			}
			st.SocketDrops[name] = nil
			st.SocketDropsUnavailable[name] = err.Error()
			continue
		}
		st.SocketDrops[name] = &n
	}
	return st
}

// statsCollector exports the stats structs as Prometheus metrics named
// hepd_<part>_<field>, so a counter added to a part's Stats shows up without
// touching this file. Maps become a "key" label; durations are in seconds.
type statsCollector struct{ s *server }

func (statsCollector) Describe(chan<- *prometheus.Desc) {} // unchecked collector: the set follows the stats

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	for part, v := range c.s.stats() {
		collectValue(ch, "hepd_"+part, nil, reflect.ValueOf(v))
	}
}

func collectValue(ch chan<- prometheus.Metric, name string, labels prometheus.Labels, v reflect.Value) {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		emit(ch, name+"_seconds", labels, time.Duration(v.Int()).Seconds())
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			switch f := v.Type().Field(i); {
			case f.Anonymous: // an embedded struct's fields are the outer struct's
				collectValue(ch, name, labels, v.Field(i))
			case f.IsExported():
				collectValue(ch, name+"_"+snake(f.Name), labels, v.Field(i))
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			l := prometheus.Labels{"key": iter.Key().String()}
			for k, val := range labels {
				l[k] = val
			}
			collectValue(ch, name, l, iter.Value())
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			l := prometheus.Labels{"index": strconv.Itoa(i)}
			for k, val := range labels {
				l[k] = val
			}
			collectValue(ch, name, l, v.Index(i))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		emit(ch, name, labels, float64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		emit(ch, name, labels, float64(v.Uint()))
	case reflect.Float32, reflect.Float64:
		emit(ch, name, labels, v.Float())
	case reflect.Bool:
		var f float64
		if v.Bool() {
			f = 1
		}
		emit(ch, name, labels, f)
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectValue(ch, name, labels, v.Elem())
		}
	}
}

func emit(ch chan<- prometheus.Metric, name string, labels prometheus.Labels, value float64) {
	desc := prometheus.NewDesc(name, "hepd statistic "+name+" (see /api/v1/stats)", nil, labels)
	ch <- prometheus.MustNewConstMetric(desc, prometheus.UntypedValue, value)
}

// snake turns a Go field name into a metric name part: "FramesIn" → "frames_in".
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// connView is one row of `hepd ctl tcp list`.
type connView struct {
	ID        uint64   `json:"id"`
	Worker    int      `json:"worker"`
	Direction string   `json:"dir"`
	Local     string   `json:"local"`
	Remote    string   `json:"remote"`
	Proxy     string   `json:"proxy"` // the socket's peer when Remote came from a PROXY header
	Aliases   []string `json:"aliases"`
	State     string   `json:"state"`
	Age       string   `json:"age"`
	Idle      string   `json:"idle"`
	BytesIn   uint64   `json:"bytes_in"`
	BytesOut  uint64   `json:"bytes_out"`
	FramesIn  uint64   `json:"frames_in"`
	WritesOut uint64   `json:"writes_out"`
	WQ        int      `json:"wq_bytes"`
}

// connColumns is the column order of `hepd ctl tcp list`.
var connColumns = []string{"id", "worker", "dir", "local", "remote", "proxy", "aliases", "state", "age", "idle",
	"bytes_in", "bytes_out", "frames_in", "writes_out", "wq_bytes"}

func newConnView(c tcpstack.ConnInfo) connView {
	v := connView{
		ID: c.ID, Worker: c.Worker, Direction: "in", Local: c.Local.String(), Remote: c.Remote.String(),
		Proxy: "-", Aliases: []string{}, State: c.State,
		Age: c.Age.Round(100 * time.Millisecond).String(), Idle: c.Idle.Round(100 * time.Millisecond).String(),
		BytesIn: c.BytesIn, BytesOut: c.BytesOut, FramesIn: c.FramesIn, WritesOut: c.WritesOut, WQ: c.WriteQueue,
	}
	if c.Outbound {
		v.Direction = "out"
	}
	if c.Proxied {
		v.Proxy = c.Peer.String()
	}
	for _, a := range c.Aliases {
		v.Aliases = append(v.Aliases, a.String())
	}
	return v
}
