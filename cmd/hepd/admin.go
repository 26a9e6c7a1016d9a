package main

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminHandler serves the admin API: /healthz, /api/v1/stats (JSON) and
// /metrics (Prometheus). It listens on loopback unless configured otherwise.
func (s *server) adminHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	reg.MustRegister(statsCollector{s})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/v1/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.stats())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Profiling on the admin listener (loopback by default), so a running
	// capture can be profiled: go tool pprof http://127.0.0.1:9096/debug/pprof/profile
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// stats gathers every part's counters; it is what /api/v1/stats returns and
// what /metrics exports.
func (s *server) stats() map[string]any {
	out := map[string]any{
		"ingest": s.pipe.Stats(),
		"store":  s.store.Stats(),
		"udp":    map[string]uint64{"Datagrams": s.udp.Datagrams()},
	}
	if s.tcp != nil {
		out["tcp"] = s.tcp.Stats()
	}
	return out
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
