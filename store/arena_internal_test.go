package store

import "testing"

// TestArenaFits: a recycled arena is kept while it has a sixteenth to spare
// over the row-size estimate (new arenas get an eighth), and replaced below.
func TestArenaFits(t *testing.T) {
	const estimate = 2000 * 1000 // 2,000 rows of 1,000 bytes
	want := estimate * 9 / 8
	for _, tc := range []struct {
		c    int
		fits bool
	}{
		{want, true},
		{want * 2, true},
		{estimate * 17 / 16, true},
		{estimate*17/16 - 1, false},
		{estimate, false},
		{0, false},
	} {
		if got := arenaFits(tc.c, want); got != tc.fits {
			t.Errorf("arenaFits(%d, %d) = %v, want %v", tc.c, want, got, tc.fits)
		}
	}
}
