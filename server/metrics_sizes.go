package server

import (
	"math/bits"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// sizeBuckets are the upper bounds of ferry_message_size_bytes: 16 B to
// 16 MiB (the default message limit), by fours, 16·4^k for k in 0..10.
var sizeBuckets = prometheus.ExponentialBuckets(16, 4, 11)

var sizesDesc = desc("ferry_message_size_bytes", "Message payload bytes by direction (in: from clients).", "direction")

// sizeHistogram counts message sizes into sizeBuckets for
// emulation.Counters (InSizes, OutSizes) with one atomic add, a tenth of
// what a prometheus.Histogram costs: its count and sum are the messages
// and bytes the same Counters keep.
type sizeHistogram struct {
	counts [11 + 1]atomic.Uint64 // per bucket, not cumulative; the last above 16 MiB
}

// Observe counts a message of v bytes.
func (h *sizeHistogram) Observe(v float64) { h.counts[sizeBucket(uint64(v))].Add(1) }

// sizeBucket returns the index in sizeBuckets of the smallest bound not
// below n, or len(sizeBuckets) if n is above them all.
func sizeBucket(n uint64) int {
	if n <= 16 {
		return 0
	}
	// n ≤ 16·4^k = 2^(4+2k) ⇔ bits.Len64(n-1) ≤ 4+2k.
	return min((bits.Len64(n-1)-3)/2, len(sizeBuckets))
}

// buckets returns the cumulative counts by upper bound. Read them before
// the count (Counters.Snapshot): Counters adds a message to its count
// before its bucket, so no bucket then exceeds the count.
func (h *sizeHistogram) buckets() map[float64]uint64 {
	out := make(map[float64]uint64, len(sizeBuckets))
	var cum uint64
	for i, b := range sizeBuckets {
		cum += h.counts[i].Load()
		out[b] = cum
	}
	return out
}
