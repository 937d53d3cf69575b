package server

import (
	"context"
	"strconv"
	"strings"

	"github.com/ferrygw/ferry/bytesocket"
)

// Bench is the load-test service that cmd/ferry-bench drives (service type
// bench in the configuration). It echoes every message, like Echo, except
// two text commands:
//
//	down COUNT SIZE   send COUNT binary messages of SIZE bytes as fast as the
//	                  socket takes them, then the text message "done"
//	up [COUNT]        read the following messages without echoing them until
//	                  COUNT have arrived, or the text message "end" does
//	                  (without COUNT, only "end" stops), then reply "got N",
//	                  N being the number of messages counted
//
// COUNT is at most BenchMaxCount and SIZE at most BenchMaxSize; a command
// that does not parse, or is out of range, is echoed like any other text.
// Closing the socket stops a stream early.
func Bench(s bytesocket.Socket) {
	ctx := context.Background()
	for {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return
		}
		if typ == bytesocket.Text {
			if count, size, ok := parseBenchDown(p); ok {
				if benchDown(ctx, s, count, size) != nil {
					return
				}
				continue
			}
			if count, ok := parseBenchUp(p); ok {
				n, err := benchUp(ctx, s, count)
				if err != nil {
					return
				}
				if s.Write(ctx, bytesocket.Text, []byte("got "+strconv.FormatUint(n, 10))) != nil {
					return
				}
				continue
			}
		}
		if s.Write(ctx, typ, p) != nil {
			return
		}
	}
}

// Limits of the Bench service's commands.
const (
	// BenchMaxCount is the largest COUNT of a down or up command.
	BenchMaxCount = 1 << 50
	// BenchMaxSize is the largest SIZE of a down command.
	BenchMaxSize = 16 << 20
)

// parseBenchDown parses "down COUNT SIZE".
func parseBenchDown(p []byte) (count uint64, size int, ok bool) {
	f := strings.Fields(string(p))
	if len(f) != 3 || f[0] != "down" {
		return 0, 0, false
	}
	count, err1 := strconv.ParseUint(f[1], 10, 64)
	sz, err2 := strconv.ParseUint(f[2], 10, 32)
	if err1 != nil || err2 != nil || count > BenchMaxCount || sz > BenchMaxSize {
		return 0, 0, false
	}
	return count, int(sz), true
}

// parseBenchUp parses "up" or "up COUNT"; count 0 means until "end".
func parseBenchUp(p []byte) (count uint64, ok bool) {
	f := strings.Fields(string(p))
	if len(f) == 0 || len(f) > 2 || f[0] != "up" {
		return 0, false
	}
	if len(f) == 1 {
		return 0, true
	}
	count, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil || count == 0 || count > BenchMaxCount {
		return 0, false
	}
	return count, true
}

// benchDown sends count messages of size bytes, then "done".
func benchDown(ctx context.Context, s bytesocket.Socket, count uint64, size int) error {
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	for range count {
		if err := s.Write(ctx, bytesocket.Binary, msg); err != nil {
			return err
		}
	}
	return s.Write(ctx, bytesocket.Text, []byte("done"))
}

// benchUp counts messages until count (0: unlimited) or a text "end".
func benchUp(ctx context.Context, s bytesocket.Socket, count uint64) (uint64, error) {
	var n uint64
	for count == 0 || n < count {
		typ, p, err := s.Read(ctx)
		if err != nil {
			return n, err
		}
		if typ == bytesocket.Text && string(p) == "end" {
			break
		}
		n++
	}
	return n, nil
}
