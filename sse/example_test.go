package sse_test

import (
	"os"

	"github.com/ferrygw/ferry/sse"
	"github.com/ferrygw/ferry/wire"
)

func ExampleEncoder() {
	e := sse.NewEncoder(os.Stdout)
	e.WriteComment("ferry")
	e.WriteEvent(1, wire.AppendBinary(nil, []byte{0xFF, 0x00}))
	// Output:
	// : ferry
	// id: 1
	// data: b/wA=
}
