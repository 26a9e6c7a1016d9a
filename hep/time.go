package hep

import (
	"strconv"
	"time"
)

// TimeFix tells what CaptureTime had to do to the sender's timestamp.
type TimeFix uint8

const (
	TimeOK          TimeFix = iota // used as sent
	TimeMissing                    // seconds and microseconds both 0: receive time used
	TimeNTP                        // seconds were since 1900 (NTP epoch): converted
	TimeUsecClamped                // microseconds ≥ 1e6: clamped to 999999
	TimeImplausible                // outside [recv−10 years, recv+1 day]: receive time used
)

func (f TimeFix) String() string {
	switch f {
	case TimeOK:
		return "ok"
	case TimeMissing:
		return "missing"
	case TimeNTP:
		return "ntp"
	case TimeUsecClamped:
		return "usec_clamped"
	case TimeImplausible:
		return "implausible"
	}
	return "TimeFix(" + strconv.Itoa(int(f)) + ")"
}

const (
	ntpToUnix  = 2208988800 // seconds from 1900-01-01 to 1970-01-01
	maxAhead   = 24 * time.Hour
	maxBehindY = 10 // years

	tenYearsMin = maxBehindY * 365 * 86400 // seconds in maxBehindY years, at least
)

// CaptureTime returns the capture time of p in UTC, sanitised as spec §6
// recommends, given the time the packet was received. A timestamp that is
// missing or cannot be trusted is replaced by recv, so one bad sender cannot
// create rows far outside the retained partitions. When several fixes
// apply, fix reports the most severe: TimeImplausible, then TimeNTP, then
// TimeUsecClamped.
func CaptureTime(p *Packet, recv time.Time) (t time.Time, fix TimeFix) {
	recv = recv.UTC()
	if p.TimeSec == 0 && p.TimeUsec == 0 {
		return recv, TimeMissing
	}
	now := recv.Unix()
	latest := now + int64(maxAhead/time.Second)

	sec, usec := int64(p.TimeSec), p.TimeUsec
	if usec >= 1e6 {
		usec, fix = 999999, TimeUsecClamped
	}
	// Ten calendar years are at least 3650 days, so a time that is neither
	// ahead nor further back than that is not too old: the calendar
	// arithmetic of AddDate is only needed near the edge.
	if sec > latest || sec < now-tenYearsMin {
		earliest := recv.AddDate(-maxBehindY, 0, 0).Unix()
		if sec > latest && sec-ntpToUnix >= earliest && sec-ntpToUnix <= latest {
			sec, fix = sec-ntpToUnix, TimeNTP
		}
		if sec < earliest {
			return recv, TimeImplausible
		}
	}
	// After recv+maxAhead, compared without building that time.
	if sec > latest || sec == latest && int(usec)*1000 > recv.Nanosecond() {
		return recv, TimeImplausible
	}
	return time.Unix(sec, int64(usec)*1000).UTC(), fix
}
