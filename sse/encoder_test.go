package sse

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// countWriter counts Write calls.
type countWriter struct {
	bytes.Buffer
	writes int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

func TestEncoder(t *testing.T) {
	var w countWriter
	e := NewEncoder(&w)
	for _, err := range []error{
		e.WriteComment("hi"),
		e.WriteRetry(time.Second),
		e.WriteEvent(1, []byte("ta")),
		e.WriteEvent(0, make([]byte, maxRetained+1)), // drops the grown buffer
		e.WriteEvent(0, []byte("h")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := ": hi\nretry: 1000\nid: 1\ndata: ta\n\ndata: " + string(make([]byte, maxRetained+1)) + "\n\ndata: h\n\n"
	if w.String() != want || w.writes != 5 {
		t.Errorf("wrote %d times: %.80q", w.writes, w.String())
	}

	boom := errors.New("boom")
	if err := NewEncoder(errWriter{boom}).WriteEvent(1, nil); err != boom {
		t.Errorf("WriteEvent error = %v, want boom", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }
