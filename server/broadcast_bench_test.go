package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// BenchmarkBroadcast measures fan-out: one operation is one 64-byte
// message published and received by every one of 500 subscribers of one
// transport, all Go clients in this process (so client and server share
// the CPU: compare transports with each other, and see cmd/ferry-bench
// for the server alone). The publisher stays at most 256 messages ahead
// of the slowest subscriber, well inside the slow-consumer limit, so the
// figure is sustained throughput rather than a burst into buffers. It
// reports deliveries/s and, per transport, the ratio to plain WebSocket
// (native) measured in the same run.
func BenchmarkBroadcast(b *testing.B) {
	const subs, ahead = 500, 256
	rates := map[string]float64{}
	for _, t := range []string{"native", client.WebSocket, client.SSE, client.LongPoll} {
		b.Run(t, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			f := newFeed(b, server.BroadcastConfig{Queue: 4 * ahead}, server.ServiceConfig{})
			tr := t
			if tr == "native" {
				tr = client.Plain
			}
			socks := f.subscribe(b, ctx, subs, []string{tr})
			got := make([]atomic.Int64, subs) // messages each subscriber has read
			var wg sync.WaitGroup
			var failed atomic.Value
			for i, s := range socks {
				wg.Go(func() {
					for n := 0; n < b.N; n++ {
						if _, _, err := s.Read(ctx); err != nil {
							failed.CompareAndSwap(nil, fmt.Errorf("subscriber %d after %d: %w", i, n, err))
							cancel()
							return
						}
						got[i].Add(1)
					}
				})
			}
			slowest := func() int64 {
				m := int64(b.N)
				for i := range got {
					m = min(m, got[i].Load())
				}
				return m
			}
			msg := make([]byte, 64)
			b.SetBytes(64 * subs)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				for int64(i)-slowest() > ahead && ctx.Err() == nil {
					time.Sleep(100 * time.Microsecond)
				}
				if err := f.b.Publish(ctx, bytesocket.Binary, msg); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			rate := float64(b.N) * subs / elapsed.Seconds()
			b.ReportMetric(rate, "deliveries/s")
			rates[t] = rate
			if base := rates["native"]; t != "native" && base > 0 {
				b.ReportMetric(rate/base, "x-native")
			}
			closeAll(b, socks)
		})
	}
}
