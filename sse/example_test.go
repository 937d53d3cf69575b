package sse_test

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/sse"
)

func ExampleAppendEvent() {
	var buf []byte
	buf = sse.AppendRetry(buf, time.Second)
	buf = sse.AppendEvent(buf, 7, bytesocket.AppendText(nil, []byte("hello\nworld")))
	buf = sse.AppendEvent(buf, 0, []byte("h"))
	os.Stdout.Write(buf)
	// Output:
	// retry: 1000
	// id: 7
	// data: thello\nworld
	//
	// data: h
}

func ExampleDecoder() {
	stream := ": padding\n\n" +
		"retry: 1000\nid: 7\ndata: thello\\nworld\n\n" +
		"data: h\n\n" +
		"event: custom\ndata: line 1\r\ndata: line 2\r\n\r\n" +
		"data: unfinished"
	d := sse.NewDecoder(strings.NewReader(stream))
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s id=%s %q\n", ev.Type, ev.ID, ev.Data)
	}
	retry, _ := d.Retry()
	fmt.Println("retry:", retry)
	// Output:
	// message id=7 "thello\\nworld"
	// message id=7 "h"
	// custom id=7 "line 1\nline 2"
	// retry: 1s
}

func ExampleParser() {
	var p sse.Parser
	emit := func(ev sse.Event) {
		typ, msg, err := bytesocket.ParseFrame(ev.Data)
		fmt.Println(ev.ID, typ, string(msg), err)
	}
	// Chunks may split a stream anywhere, even between a CR and its LF.
	for _, chunk := range []string{"id: 1\r\ndata: tfir", "st\r", "\n\r", "\nid: 2\ndata: bc2Vjb25k\n\n"} {
		if err := p.Feed([]byte(chunk), emit); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// 1 text first <nil>
	// 2 binary second <nil>
}

func ExampleEncoder() {
	e := sse.NewEncoder(os.Stdout)
	e.WriteComment("ferry")
	e.WriteEvent(1, bytesocket.AppendBinary(nil, []byte{0xFF, 0x00}))
	// Output:
	// : ferry
	// id: 1
	// data: b/wA=
}
