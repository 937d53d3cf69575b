package wire_test

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/wire"
)

func ExampleAppendFrame() {
	text := wire.AppendFrame(nil, bytesocket.Text, []byte("line 1\r\nline 2 \\o/"))
	binary := wire.AppendFrame(nil, bytesocket.Binary, []byte{0x00, 0x01, 0xfe, 0xff})
	fmt.Printf("%s\n%s\n", text, binary)
	// Output:
	// tline 1\r\nline 2 \\o/
	// bAAH+/w==
}

func ExampleParseFrame() {
	typ, p, err := wire.ParseFrame([]byte(`tdata: x\n\nid: 3`))
	fmt.Printf("%s %q %v\n", typ, p, err)

	_, _, err = wire.ParseFrame([]byte(`tan unknown \x escape`))
	fmt.Println(err)
	// Output:
	// text "data: x\n\nid: 3" <nil>
	// ferry: malformed frame
}

func ExampleAppendEvent() {
	var buf []byte
	buf = wire.AppendRetry(buf, time.Second)
	buf = wire.AppendEvent(buf, 7, wire.AppendText(nil, []byte("hello\nworld")))
	buf = wire.AppendEvent(buf, 0, []byte("h"))
	os.Stdout.Write(buf)
	// Output:
	// retry: 1000
	// id: 7
	// data: thello\nworld
	//
	// data: h
}

func ExampleEventDecoder() {
	stream := ": padding\n\n" +
		"retry: 1000\nid: 7\ndata: thello\\nworld\n\n" +
		"data: h\n\n" +
		"event: custom\ndata: line 1\r\ndata: line 2\r\n\r\n" +
		"data: unfinished"
	d := wire.NewEventDecoder(strings.NewReader(stream))
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

func ExampleEventParser() {
	var p wire.EventParser
	emit := func(ev wire.Event) {
		typ, msg, err := wire.ParseFrame(ev.Data)
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
