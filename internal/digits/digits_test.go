package digits

import "testing"

func TestPort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"5060", 5060, true}, {"1", 1, true}, {"65535", 65535, true}, {"00080", 80, true},
		{"0", 0, false}, {"65536", 0, false}, {"", 0, false}, {"123456", 0, false},
		{"-1", 0, false}, {"+80", 0, false}, {" 80", 0, false}, {"8a", 0, false},
	} {
		got, ok := Port([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Port(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
