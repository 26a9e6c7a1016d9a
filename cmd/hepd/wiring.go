package main

import (
	"net/netip"
	"time"

	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/tcpstack"
)

// tcpConfig maps the tcp_* parameters onto the stack's configuration.
func tcpConfig(c Config, listen []netip.AddrPort) tcpstack.Config {
	sec := func(v Int) time.Duration {
		if v < 0 {
			return -1 // Kamailio: a negative timeout means the default or maximum
		}
		return time.Duration(v) * time.Second
	}
	src := func(s Str) netip.Addr {
		a, _ := netip.ParseAddr(string(s)) // validated by loadConfig; empty is the zero Addr
		return a
	}
	tc := tcpstack.DefaultConfig()
	tc.Listen = listen
	tc.Children = int(c.TCPChildren)
	tc.RdBufSize = int(c.TCPRdBufSize)
	tc.MaxConnections = int(c.TCPMaxConnections)
	tc.ConnectionLifetime = sec(c.TCPConnectionLifetime)
	tc.PollMethod = string(c.TCPPollMethod)
	tc.AcceptAliases = bool(c.TCPAcceptAliases)
	tc.AcceptHAProxy = bool(c.TCPAcceptHAProxy)
	tc.AcceptHEP3 = bool(c.TCPAcceptHEP3)
	tc.AcceptIPLimit = int(c.TCPAcceptIPLimit)
	tc.AcceptNoCL = bool(c.TCPAcceptNoCL)
	tc.AcceptUnique = bool(c.TCPAcceptUnique)
	tc.Async = bool(c.TCPAsync)
	tc.CloneRcvBuf = bool(c.TCPCloneRcvBuf)
	tc.CheckTimer = sec(c.TCPCheckTimer)
	tc.ConnectionMatch = int(c.TCPConnectionMatch)
	tc.ConnectTimeout = sec(c.TCPConnectTimeout)
	tc.ConnWQMax = int(c.TCPConnWQMax)
	tc.CRLFPing = bool(c.TCPCRLFPing)
	tc.DeferAccept = int(c.TCPDeferAccept)
	tc.DelayedAck = bool(c.TCPDelayedAck)
	tc.FDCache = bool(c.TCPFDCache)
	tc.KeepAlive = bool(c.TCPKeepalive)
	tc.KeepCnt = int(c.TCPKeepCnt)
	tc.KeepIdle = int(c.TCPKeepIdle)
	tc.KeepIntvl = int(c.TCPKeepIntvl)
	tc.Linger2 = int(c.TCPLinger2)
	tc.MsgDataTimeout = sec(c.TCPMsgDataTimeout)
	tc.MsgReadTimeout = sec(c.TCPMsgReadTimeout)
	tc.NoConnect = bool(c.TCPNoConnect)
	tc.ReusePort = bool(c.TCPReusePort)
	tc.ScriptMode = int(c.TCPScriptMode)
	tc.SendTimeout = sec(c.TCPSendTimeout)
	tc.SourceIPv4 = src(c.TCPSourceIPv4)
	tc.SourceIPv6 = src(c.TCPSourceIPv6)
	tc.SynCnt = int(c.TCPSynCnt)
	tc.WaitData = time.Duration(c.TCPWaitData) * time.Millisecond
	tc.WQBlkSize = int(c.TCPWQBlkSize)
	tc.WQMax = int(c.TCPWQMax)
	return tc
}

// storeConfig maps the db_* parameters onto the store's configuration.
func storeConfig(c Config, dsn, spoolDir string) store.Config {
	return store.Config{
		DSN:           dsn,
		SpoolDir:      spoolDir,
		SpoolMaxBytes: int64(c.SpoolMaxMB) << 20,
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
