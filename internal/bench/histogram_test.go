package bench

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	var prevHi uint64
	for i := range histBuckets {
		lo, hi := bucketBounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, after %d", i, lo, prevHi)
		}
		if hi < lo {
			t.Fatalf("bucket %d: %d..%d", i, lo, hi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: bounds %d..%d map to %d, %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= 2*histSub && float64(hi-lo+1)/float64(lo) > 1.0/histSub+1e-12 {
			t.Fatalf("bucket %d is %d wide at %d: over 1/%d", i, hi-lo+1, lo, histSub)
		}
		prevHi = hi
	}
	if prevHi != math.MaxUint64 {
		t.Fatalf("the last bucket ends at %d", prevHi)
	}
}

func TestQuantileExactBelow128(t *testing.T) {
	h := NewHistogram()
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.01, 1}, {0.5, 50}, {0.99, 99}, {0.999, 100}, {1, 100}} {
		if got := h.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if h.Count() != 100 || h.Min() != 1 || h.Max() != 100 || h.Mean() != 50 {
		t.Errorf("count %d min %v max %v mean %v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

// Quantiles of random latencies are within the bucket precision of the
// exact ones.
func TestQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := NewHistogram()
	var vals []time.Duration
	for range 100000 {
		v := time.Duration(math.Exp(r.NormFloat64()*1.5+12)) + 1 // log-normal around 160 µs
		vals = append(vals, v)
		h.Record(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/histSub+1 {
			t.Errorf("q%v: %v, exact %v", q, got, exact)
		}
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram is not all zero")
	}
	h.Record(-5)
	if h.Count() != 1 || h.Max() != 0 || h.Quantile(1) != 0 {
		t.Fatalf("negative: count %d max %v", h.Count(), h.Max())
	}
}

// Merging histograms, directly or through JSON as worker processes do,
// gives the histogram of all the values.
func TestHistogramMerge(t *testing.T) {
	all, parts := NewHistogram(), []*Histogram{NewHistogram(), NewHistogram(), NewHistogram()}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 30000 {
		v := time.Duration(r.Int64N(int64(time.Second)))
		all.Record(v)
		parts[i%3].Record(v)
	}
	parts = append(parts, NewHistogram()) // an empty one changes nothing
	direct, viaJSON := NewHistogram(), NewHistogram()
	for _, p := range parts {
		direct.Merge(p)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Histogram
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		viaJSON.Merge(&back)
	}
	for _, h := range []*Histogram{direct, viaJSON} {
		if h.Count() != all.Count() || h.Min() != all.Min() || h.Max() != all.Max() || h.Mean() != all.Mean() {
			t.Fatalf("merged count %d min %v max %v mean %v; want %d %v %v %v",
				h.Count(), h.Min(), h.Max(), h.Mean(), all.Count(), all.Min(), all.Max(), all.Mean())
		}
		for _, q := range []float64{0, 0.5, 0.99, 0.999, 1} {
			if h.Quantile(q) != all.Quantile(q) {
				t.Fatalf("q%v: merged %v, want %v", q, h.Quantile(q), all.Quantile(q))
			}
		}
	}
}

func TestHistogramJSONRejectsBadInput(t *testing.T) {
	for _, in := range []string{
		`{"count":2,"buckets":[[1,1]]}`,
		`{"count":1,"buckets":[[99999,1]]}`,
		`[1]`,
	} {
		var h Histogram
		if err := json.Unmarshal([]byte(in), &h); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	h := NewHistogram()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000 + i))
			}
		})
	}
	wg.Wait()
	if h.Count() != 8000 || h.Min() != 0 || h.Max() != 7999 {
		t.Fatalf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
}
