package bench

import (
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts non-negative values (durations in nanoseconds) in
// log-linear buckets: values below 2·histSub are exact, and every
// power-of-two range above is split into histSub equal buckets, so a
// reported value is within 1/histSub (1.6 %) above the true one. Record
// is lock-free and safe for concurrent use; histograms from different
// processes merge exactly (Merge, or through their JSON form).
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // saturates at math.MaxUint64
	min    atomic.Uint64 // valid when total > 0
	max    atomic.Uint64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	// histBuckets covers every uint64: the largest index is
	// bucketOf(2^64-1) = (64-histSubBits-1)·histSub + 2·histSub - 1.
	histBuckets = (64-histSubBits)*histSub + histSub
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.min.Store(math.MaxUint64)
	return h
}

// bucketOf returns the index of v's bucket.
func bucketOf(v uint64) int {
	shift := max(bits.Len64(v)-(histSubBits+1), 0)
	return shift*histSub + int(v>>shift)
}

// bucketBounds returns the smallest and largest value of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i)
	}
	shift := i/histSub - 1
	lo = uint64(histSub+i%histSub) << shift
	return lo, lo + (1 << shift) - 1
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	addSat(&h.sum, v)
	for {
		m := h.min.Load()
		if v >= m || h.min.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

func addSat(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		n := old + v
		if n < old {
			n = math.MaxUint64
		}
		if a.CompareAndSwap(old, n) {
			return
		}
	}
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Min returns the smallest recorded value, or 0 if there is none.
func (h *Histogram) Min() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.min.Load())
}

// Max returns the largest recorded value.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean returns the mean of the recorded values, or 0 if there is none.
func (h *Histogram) Mean() time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the value at quantile q (0 ≤ q ≤ 1): the upper bound
// of the bucket holding the ⌈q·count⌉-th smallest value, clamped to the
// recorded minimum and maximum. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketBounds(i)
			hi = min(max(hi, h.min.Load()), h.max.Load())
			return time.Duration(hi)
		}
	}
	return h.Max()
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.Count() == 0 {
		return
	}
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	addSat(&h.sum, o.sum.Load())
	for v := o.min.Load(); ; {
		m := h.min.Load()
		if v >= m || h.min.CompareAndSwap(m, v) {
			break
		}
	}
	for v := o.max.Load(); ; {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// histJSON is a histogram's wire form: only non-empty buckets, as
// [index, count] pairs.
type histJSON struct {
	Count   uint64      `json:"count"`
	Sum     uint64      `json:"sum"`
	Min     uint64      `json:"min"`
	Max     uint64      `json:"max"`
	Buckets [][2]uint64 `json:"buckets"`
}

// MarshalJSON encodes the histogram exactly, for merging in another
// process.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	j := histJSON{Count: h.Count(), Sum: h.sum.Load(), Min: uint64(h.Min()), Max: h.max.Load(), Buckets: [][2]uint64{}}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			j.Buckets = append(j.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON wrote, replacing h's contents.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	fresh := NewHistogram()
	var total uint64
	for _, bc := range j.Buckets {
		if bc[0] >= histBuckets {
			return errors.New("bench: histogram bucket out of range")
		}
		fresh.counts[bc[0]].Add(bc[1])
		total += bc[1]
	}
	if total != j.Count {
		return errors.New("bench: histogram count does not match its buckets")
	}
	fresh.total.Store(total)
	fresh.sum.Store(j.Sum)
	if total > 0 {
		fresh.min.Store(j.Min)
		fresh.max.Store(j.Max)
	}
	for i := range h.counts {
		h.counts[i].Store(fresh.counts[i].Load())
	}
	h.total.Store(fresh.total.Load())
	h.sum.Store(fresh.sum.Load())
	h.min.Store(fresh.min.Load())
	h.max.Store(fresh.max.Load())
	return nil
}
