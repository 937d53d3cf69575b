package emulation

// fifo is a first-in first-out queue over one slice. Popping does not
// give up the slice's front, so a queue that fills and drains one item
// at a time (the steady state of a busy session) reuses one small array
// instead of allocating on every push; a queue that grew past keep items
// gives its array back when it empties, so idle sessions stay small.
type fifo[T any] struct {
	buf  []T // live items are buf[head:]
	head int
}

// fifoKeep is the largest array an empty fifo keeps.
const fifoKeep = 4

// len returns the number of items queued.
func (q *fifo[T]) len() int { return len(q.buf) - q.head }

// items returns the queued items, oldest first. The slice is valid until
// the next push or pop.
func (q *fifo[T]) items() []T { return q.buf[q.head:] }

// push appends v. When the array is full and at least half of it is
// popped space, the live items move to its front instead of growing it.
func (q *fifo[T]) push(v T) {
	if len(q.buf) == cap(q.buf) && q.head > 0 && q.head >= len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, v)
}

// pop removes the n oldest items (n ≤ len).
func (q *fifo[T]) pop(n int) {
	if q.head+n == len(q.buf) {
		q.reset() // clears them with the rest
		return
	}
	clear(q.buf[q.head : q.head+n])
	q.head += n
}

// reset empties the queue, keeping a small array.
func (q *fifo[T]) reset() {
	clear(q.buf[q.head:]) // the popped front is cleared already
	if cap(q.buf) > fifoKeep {
		q.buf = nil
	} else {
		q.buf = q.buf[:0]
	}
	q.head = 0
}
