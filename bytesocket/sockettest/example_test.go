package sockettest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
)

func ExamplePipe() {
	ctx := context.Background()
	server, client := sockettest.Pipe()

	_ = client.Write(ctx, bytesocket.Text, []byte("ping"))
	_ = client.Close(4000, "done")

	typ, msg, _ := server.Read(ctx)
	fmt.Printf("%s %s\n", typ, msg)
	_, _, err := server.Read(ctx)
	var ce bytesocket.CloseError
	fmt.Println(errors.As(err, &ce), ce.Code, ce.Reason)
	// Output:
	// text ping
	// true 4000 done
}
