// Command report turns the JSON results that bench/run.sh collects from
// ferry-bench (one file per run, written with -out) into side-by-side
// tables of Ferry and its peers, with ratios, and a summary JSON.
//
//	go run ./bench/report -dir bench/out/20260101-120000 [-summary summary.json]
//
// Rows are grouped by workload (mode and sessions). Every row has a
// counterpart: Ferry's websocket, sse and longpoll are compared with
// Ferry's native (plain RFC 6455) WebSocket; SockJS and Socket.IO with the
// Ferry carrier of the same kind (websocket with websocket, eventsource
// with sse, xhr-polling and polling with longpoll). A ratio is the row's
// figure divided by its counterpart's: above 1 means higher latency or a
// higher rate than the counterpart. "server CPU" is the server's CPU time
// over the measured period, in cores; "load CPU" the load tool's over
// warm-up and period: near 1.00 the single load core was the limit, not
// the server.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ferrygw/ferry/internal/bench"
)

// row is one ferry-bench result and its place in the tables.
type row struct {
	Key         string        `json:"key"` // target/transport
	Workload    string        `json:"workload"`
	Counterpart string        `json:"counterpart,omitempty"`
	P50US       float64       `json:"p50_us"`
	P99US       float64       `json:"p99_us"`
	Rate        float64       `json:"rate"` // round trips/s or deliveries/s
	Ratios      *ratios       `json:"ratios,omitempty"`
	Result      *bench.Result `json:"result"`
}

type ratios struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	Rate float64 `json:"rate"`
}

// order is the row order of every table.
var order = []string{
	"ferry/native", "ferry/websocket", "ferry/sse", "ferry/longpoll",
	"sockjs/websocket", "sockjs/eventsource", "sockjs/xhr-polling",
	"socketio/websocket", "socketio/polling",
}

var counterpart = map[string]string{
	"ferry/websocket":    "ferry/native",
	"ferry/sse":          "ferry/native",
	"ferry/longpoll":     "ferry/native",
	"sockjs/websocket":   "ferry/websocket",
	"sockjs/eventsource": "ferry/sse",
	"sockjs/xhr-polling": "ferry/longpoll",
	"socketio/websocket": "ferry/websocket",
	"socketio/polling":   "ferry/longpoll",
}

func main() {
	dir := flag.String("dir", "", "directory of ferry-bench JSON results")
	summary := flag.String("summary", "", "write the rows and ratios as JSON to this file")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "report: -dir is required")
		os.Exit(2)
	}
	rows, workloads, err := load(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	for _, w := range workloads {
		printTable(os.Stdout, w, rows[w])
	}
	if *summary != "" {
		var all []row
		for _, w := range workloads {
			all = append(all, rows[w]...)
		}
		b, _ := json.MarshalIndent(map[string]any{"workloads": workloads, "rows": all}, "", "  ")
		if err := os.WriteFile(*summary, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
}

// load reads every ferry-bench result in dir and groups them by workload.
func load(dir string) (map[string][]row, []string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, nil, err
	}
	rows := map[string][]row{}
	var workloads []string
	sortKey := map[string][2]int{} // mode (echo first), sessions
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		var r bench.Result
		if json.Unmarshal(b, &r) != nil || r.Tool != "ferry-bench" {
			continue // not a ferry-bench result (the browser's, a summary)
		}
		w := workload(&r)
		if w == "" {
			continue
		}
		if !slices.Contains(workloads, w) {
			workloads = append(workloads, w)
			mode := 0
			if r.Broadcast != nil {
				mode = 1
			}
			sortKey[w] = [2]int{mode, r.Sessions}
		}
		rw := row{Key: r.Target + "/" + r.Transport, Workload: w, Result: &r}
		switch {
		case r.Echo != nil:
			rw.P50US, rw.P99US, rw.Rate = r.Echo.Latency.P50, r.Echo.Latency.P99, r.Echo.PerS
		case r.Broadcast != nil:
			rw.P50US, rw.P99US, rw.Rate = r.Broadcast.Latency.P50, r.Broadcast.Latency.P99, r.Broadcast.DeliveriesPerS
		}
		rows[w] = append(rows[w], rw)
	}
	slices.SortFunc(workloads, func(a, b string) int {
		ka, kb := sortKey[a], sortKey[b]
		if ka[0] != kb[0] {
			return ka[0] - kb[0]
		}
		return ka[1] - kb[1]
	})
	for _, w := range workloads {
		rs := rows[w]
		slices.SortStableFunc(rs, func(a, b row) int { return rank(a.Key) - rank(b.Key) })
		for i := range rs {
			c, ok := counterpart[rs[i].Key]
			if !ok {
				continue
			}
			rs[i].Counterpart = c
			for _, o := range rs {
				if o.Key == c && o.P50US > 0 && o.P99US > 0 && o.Rate > 0 {
					rs[i].Ratios = &ratios{P50: rs[i].P50US / o.P50US, P99: rs[i].P99US / o.P99US, Rate: rs[i].Rate / o.Rate}
				}
			}
		}
	}
	return rows, workloads, nil
}

func rank(key string) int {
	if i := slices.Index(order, key); i >= 0 {
		return i
	}
	return len(order)
}

// workload names a result's workload; results of one workload share a
// table.
func workload(r *bench.Result) string {
	switch {
	case r.Echo != nil:
		return fmt.Sprintf("echo: %d session(s), %d B, %d in flight each", r.Sessions, r.Size, max(r.Inflight, 1))
	case r.Broadcast != nil:
		return fmt.Sprintf("broadcast: %d subscribers, %g msg/s published, %d B", r.Sessions, r.Rate, r.Size)
	}
	return ""
}

func printTable(w io.Writer, name string, rs []row) {
	fmt.Fprintf(w, "\n== %s\n", name)
	broadcast := strings.HasPrefix(name, "broadcast")
	rate := "round trips/s"
	if broadcast {
		rate = "deliveries/s"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "target/transport\tp50 µs\tp99 µs\t%s\tserver CPU\tload CPU\terrors\tcompared with\tp50 x\tp99 x\trate x\t\n", rate)
	for _, r := range rs {
		errs := fmt.Sprint(r.Result.Errors)
		if b := r.Result.Broadcast; b != nil && b.Deliveries != b.Expected {
			errs += fmt.Sprintf(" (%d/%d delivered)", b.Deliveries, b.Expected)
		}
		if r.Result.SessionsOpen != r.Result.Sessions {
			errs += fmt.Sprintf(" (%d/%d open)", r.Result.SessionsOpen, r.Result.Sessions)
		}
		cpu := ""
		if r.Result.ServerCPUCores > 0 {
			cpu = fmt.Sprintf("%.2f", r.Result.ServerCPUCores)
		}
		load := ""
		if t := r.Result.WarmupS + r.Result.DurationS; t > 0 && r.Result.ClientCPUS > 0 {
			load = fmt.Sprintf("%.2f", r.Result.ClientCPUS/t)
		}
		px50, px99, rx := "", "", ""
		if r.Ratios != nil {
			px50, px99, rx = fmt.Sprintf("%.2f", r.Ratios.P50), fmt.Sprintf("%.2f", r.Ratios.P99), fmt.Sprintf("%.2f", r.Ratios.Rate)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Key, r.P50US, r.P99US, r.Rate, cpu, load, errs, r.Counterpart, px50, px99, rx)
	}
	_ = tw.Flush()
}
