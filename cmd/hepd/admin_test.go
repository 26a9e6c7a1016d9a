package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAdminPprof: the profiler answers on the admin mux.
func TestAdminPprof(t *testing.T) {
	h := (&server{}).adminHandler()
	for _, tc := range []struct{ path, want string }{
		{"/debug/pprof/", "goroutine"},
		{"/debug/pprof/cmdline", ""},
		{"/debug/pprof/heap?debug=1", "heap profile"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %.200q", tc.path, rec.Code, rec.Body.String())
		}
	}
}
