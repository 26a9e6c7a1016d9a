package hep

import (
	"testing"
	"time"
)

func TestCaptureTime(t *testing.T) {
	recv := time.Date(2026, 11, 29, 14, 0, 45, 500, time.FixedZone("CET", 3600))
	recvUTC := recv.UTC()
	unix := func(sec, usec int64) time.Time { return time.Unix(sec, usec*1000).UTC() }
	now := recv.Unix()
	tests := []struct {
		name      string
		sec, usec uint32
		want      time.Time
		fix       TimeFix
	}{
		{"plausible", uint32(now - 5), 83640, unix(now-5, 83640), TimeOK},
		{"missing", 0, 0, recvUTC, TimeMissing},
		{"only microseconds", 0, 5, recvUTC, TimeImplausible},
		{"NTP epoch", uint32(now - 5 + ntpToUnix), 7, unix(now-5, 7), TimeNTP},
		{"microseconds clamped", uint32(now), 1_000_000, unix(now, 999999), TimeUsecClamped},
		{"NTP and clamped reports NTP", uint32(now + ntpToUnix), 2_000_000, unix(now, 999999), TimeNTP},
		{"less than a day ahead", uint32(now + 3600), 0, unix(now+3600, 0), TimeOK},
		{"more than a day ahead", uint32(now + 2*86400), 0, recvUTC, TimeImplausible},
		{"HEPv2 read big-endian (2044)", 2337366784, 0, recvUTC, TimeImplausible},
		{"eleven years old", uint32(now - 11*365*86400), 0, recvUTC, TimeImplausible},
		{"nine years old", uint32(now - 9*365*86400), 0, unix(now-9*365*86400, 0), TimeOK},
		{"NTP but too old", uint32(now - 11*365*86400 + ntpToUnix), 0, recvUTC, TimeImplausible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fix := CaptureTime(&Packet{TimeSec: tt.sec, TimeUsec: tt.usec}, recv)
			if !got.Equal(tt.want) || fix != tt.fix {
				t.Errorf("CaptureTime = %v, %v; want %v, %v", got, fix, tt.want, tt.fix)
			}
			if got.Location() != time.UTC {
				t.Errorf("location %v, want UTC", got.Location())
			}
		})
	}
}

func TestTimeFixString(t *testing.T) {
	want := map[TimeFix]string{TimeOK: "ok", TimeMissing: "missing", TimeNTP: "ntp",
		TimeUsecClamped: "usec_clamped", TimeImplausible: "implausible", 9: "TimeFix(9)"}
	for f, s := range want {
		if f.String() != s {
			t.Errorf("%d.String() = %q, want %q", f, f.String(), s)
		}
	}
}

// TestCaptureTimeEdges: the cheap tests agree with the calendar around the
// ten-year limit, leap days included, and with time.After at the one-day
// limit, to the microsecond.
func TestCaptureTimeEdges(t *testing.T) {
	recv := time.Date(2026, 11, 29, 14, 0, 45, 123456000, time.UTC)
	for _, usec := range []uint32{0, 123455, 123456, 123457, 999999} {
		sec := recv.Unix() + 86400
		got, fix := CaptureTime(&Packet{TimeSec: uint32(sec), TimeUsec: usec}, recv)
		ahead := time.Unix(sec, int64(usec)*1000).After(recv.Add(maxAhead))
		if ahead != (fix == TimeImplausible) || !ahead && !got.Equal(time.Unix(sec, int64(usec)*1000)) {
			t.Errorf("a day ahead, usec %d: %v, %v", usec, got, fix)
		}
	}

	for _, recv := range []time.Time{
		time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2104, 2, 29, 23, 59, 59, 999, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		earliest := recv.AddDate(-maxBehindY, 0, 0).Unix()
		for _, sec := range []int64{earliest - 1, earliest, earliest + 1, recv.Unix() - tenYearsMin, recv.Unix() - tenYearsMin - 1} {
			got, fix := CaptureTime(&Packet{TimeSec: uint32(sec)}, recv)
			if wantOld := sec < earliest; wantOld != (fix == TimeImplausible) || !wantOld && got.Unix() != sec {
				t.Errorf("recv %v, sec %d (earliest %d): %v, %v", recv, sec, earliest, got, fix)
			}
		}
	}
}
