package emulation

import (
	"slices"
	"testing"

	"github.com/ferrygw/ferry/wire"
)

// TestFifo checks order, and that the array is reused, compacted and
// released as documented, against a plain slice model.
func TestFifo(t *testing.T) {
	var q fifo[int]
	var model []int
	next := 0
	// A deterministic mix of pushes and pops, with bursts.
	for step := range 5000 {
		pushes := 1 + step%3
		if step%97 == 0 {
			pushes = 50
		}
		for range pushes {
			q.push(next)
			model = append(model, next)
			next++
		}
		pops := min(len(model), step%4)
		if step%89 == 0 {
			pops = len(model)
		}
		q.pop(pops)
		model = model[pops:]
		if !slices.Equal(q.items(), model) || q.len() != len(model) {
			t.Fatalf("step %d: queue %v, want %v", step, q.items(), model)
		}
		if q.len() == 0 && cap(q.buf) > fifoKeep {
			t.Fatalf("step %d: empty queue keeps %d slots", step, cap(q.buf))
		}
		if cap(q.buf) > 4*max(len(model), 64) {
			t.Fatalf("step %d: %d slots for %d items", step, cap(q.buf), len(model))
		}
	}
}

// TestFifoSteadyStateNoAlloc checks that one push and one pop at a time
// allocate nothing once the queue has its array.
func TestFifoSteadyStateNoAlloc(t *testing.T) {
	var q fifo[wire.Frame]
	q.push(wire.Frame{})
	q.pop(1)
	if n := testing.AllocsPerRun(100, func() {
		q.push(wire.Frame{Seq: 1})
		q.push(wire.Frame{Seq: 2})
		q.pop(2)
	}); n != 0 {
		t.Fatalf("%v allocations per push/pop pair, want 0", n)
	}
}
