//go:build race

package ingest

// raceEnabled: under the race detector sync.Pool drops items on purpose, so
// allocation counts through the pipeline's pool are not meaningful.
const raceEnabled = true
