// Package bench is the logic of cmd/ferry-bench, a load tool that drives a
// running Ferry server (or, through RegisterTarget, another WebSocket
// emulation server) with many sessions over one transport, on loopback,
// for a bounded time, and reports what it measured as a table and as JSON.
//
// Modes:
//
//	echo       closed-loop round trips (Inflight outstanding per session); latency percentiles, round trips/s
//	down       the server streams to every session ("down COUNT SIZE" to the bench service); msgs/s, MB/s
//	up         every session sends as fast as flow control allows ("up" to the bench service); msgs/s, MB/s
//	broadcast  sessions subscribe to a broadcast service; a publisher POSTs or sends UDP datagrams
//	           carrying their send time at a fixed rate; deliveries/s and delivery latency
//	hold       sessions stay idle; the server's memory (from /metrics and /proc) per session
//
// When the sessions need more file descriptors than one process may open,
// Run starts worker processes (the hidden "worker" subcommand, see
// WorkerMain) that each hold a share of the sessions and report back in
// JSON; their histograms merge exactly.
package bench
