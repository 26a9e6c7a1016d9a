package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// summary is the -json output, one object.
type summary struct {
	Sent    map[string]int `json:"sent"`
	Tables  map[string]int `json:"tables"`
	Total   int            `json:"total"`
	Bytes   int            `json:"bytes"`
	Seconds float64        `json:"seconds"`
	Rate    float64        `json:"rate"` // messages per second achieved
	Errors  int            `json:"errors"`
	// Segmented counts the datagrams sent in UDP GSO writes.
	Segmented int    `json:"udp_gso_datagrams,omitempty"`
	Error     string `json:"error,omitempty"` // the first error
}

func summarize(s *stats, elapsed time.Duration) summary {
	sum := summary{
		Sent: make(map[string]int), Tables: make(map[string]int),
		Total: s.total, Bytes: s.bytes, Seconds: elapsed.Seconds(), Errors: s.errors, Segmented: s.segmented,
	}
	for l := range numLabels {
		sum.Sent[l.String()] = s.sent[l]
	}
	for t := range numTables {
		sum.Tables[t.String()] = s.tables[t]
	}
	if elapsed > 0 {
		sum.Rate = float64(s.total) / elapsed.Seconds()
	}
	if s.firstErr != nil {
		sum.Error = s.firstErr.Error()
	}
	return sum
}

func writeJSON(w io.Writer, sum summary) error {
	return json.NewEncoder(w).Encode(sum)
}

func writeTable(w io.Writer, s *stats, sum summary) error {
	var b []byte
	row := func(name string, n int) { b = fmt.Appendf(b, "  %-26s %10d\n", name, n) }
	b = append(b, "sent\n"...)
	for l := range numLabels {
		if s.sent[l] > 0 {
			row(l.String(), s.sent[l])
		}
	}
	b = append(b, "Homer tables\n"...)
	for t := range numTables {
		if s.tables[t] > 0 {
			row(t.String(), s.tables[t])
		}
	}
	b = fmt.Appendf(b, "total %d messages, %d bytes in %.3fs (%.0f messages/s), %d errors\n",
		sum.Total, sum.Bytes, sum.Seconds, sum.Rate, sum.Errors)
	if sum.Segmented > 0 {
		b = fmt.Appendf(b, "%d datagrams went in GSO writes\n", sum.Segmented)
	}
	if sum.Error != "" {
		b = fmt.Appendf(b, "first error: %s\n", sum.Error)
	}
	_, err := w.Write(b)
	return err
}
