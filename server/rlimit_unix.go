//go:build unix

package server

import "syscall"

// fileLimit returns the soft limit on open files (RLIMIT_NOFILE), which
// Go raises to the hard limit at start, or 0 if it is unknown.
func fileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return uint64(r.Cur)
}
