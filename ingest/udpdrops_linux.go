package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketDrops reads the kernel's drop counter of the socket fd (sk_drops:
// datagrams discarded because the receive buffer was full, or for a bad
// checksum): with SO_MEMINFO (Linux 4.6 and later), else from the drops
// column of /proc/net/udp and /proc/net/udp6, found by the socket's inode.
// Both are the same counter, exact at the time of the call.
func socketDrops(fd int) (uint64, error) {
	var mem [unix.SK_MEMINFO_VARS]uint32
	size := uint32(unsafe.Sizeof(mem))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mem)), uintptr(unsafe.Pointer(&size)), 0)
	if errno == 0 && size > unix.SK_MEMINFO_DROPS*4 {
		return uint64(mem[unix.SK_MEMINFO_DROPS]), nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, fmt.Errorf("SO_MEMINFO: %v; fstat: %w", errno, err)
	}
	n, err := procUDPDrops(st.Ino)
	if err != nil {
		return 0, fmt.Errorf("SO_MEMINFO: %v; %w", errno, err)
	}
	return n, nil
}

// procUDPDrops returns the drops column of the UDP socket with inode ino in
// /proc/net/udp or /proc/net/udp6.
func procUDPDrops(ino uint64) (uint64, error) {
	want := []byte(strconv.FormatUint(ino, 10))
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			return 0, fmt.Errorf("kernel drop counter: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // header
		for sc.Scan() {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
			f := bytes.Fields(sc.Bytes())
			if len(f) < 13 || !bytes.Equal(f[9], want) {
				continue
			}
			n, err := strconv.ParseUint(string(f[12]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("kernel drop counter: %s: bad drops column %q", name, f[12])
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("kernel drop counter: socket inode %d not in /proc/net/udp or /proc/net/udp6", ino)
}
