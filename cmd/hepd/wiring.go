package main

import (
	"net/netip"
	"time"

	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/tcpstack"
)

// tcpConfig maps the tcp_* parameters onto the stack's configuration.
func tcpConfig(c Config, listen netip.AddrPort) tcpstack.Config {
	lifetime := time.Duration(c.TCPConnectionLifetime) * time.Second
	if c.TCPConnectionLifetime < 0 {
		lifetime = -1 // Kamailio: a negative lifetime means the maximum
	}
	return tcpstack.Config{
		Listen:             []netip.AddrPort{listen},
		Children:           int(c.TCPChildren),
		RdBufSize:          int(c.TCPRdBufSize),
		MaxConnections:     int(c.TCPMaxConnections),
		ConnectionLifetime: lifetime,
		PollMethod:         string(c.TCPPollMethod),
	}
}

// storeConfig maps the db_* parameters onto the store's configuration.
func storeConfig(c Config, dsn string) store.Config {
	return store.Config{
		DSN:           dsn,
		BatchRows:     int(c.DBBatchRows),
		FlushInterval: time.Duration(c.DBFlushMS) * time.Millisecond,
		Writers:       int(c.DBWriters),
		MaxPending:    int(c.DBMaxPending),
		IndexProfile:  string(c.DBIndexProfile),
		AsyncCommit:   !bool(c.DBSynchronousCommit),
		PartitionStep: store.PartitionSteps{
			SIP:  string(c.DBPartSIP),
			QoS:  string(c.DBPartQoS),
			Log:  string(c.DBPartLog),
			ISUP: string(c.DBPartISUP),
			DNS:  string(c.DBPartISUP),
		},
		RetentionDays:             int(c.DBDropDays),
		RetentionDaysCall:         int(c.DBDropDaysCall),
		RetentionDaysRegistration: int(c.DBDropDaysRegister),
		RetentionDaysDefault:      int(c.DBDropDaysDefault),
	}
}
