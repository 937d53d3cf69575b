package server

// A plain WebSocket reaches services wrapped in countedSocket; the
// wrapper must keep the broadcast's pre-encoded, one-syscall path.
var _ rawWriter = (*countedSocket)(nil)
