package bytesocket_test

import (
	"context"
	"fmt"
	"io"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
)

func ExampleCloseStatus() {
	err := fmt.Errorf("relay: %w", bytesocket.CloseError{Code: bytesocket.StatusGoingAway, Reason: "server shutting down"})
	fmt.Println(bytesocket.CloseStatus(err))
	fmt.Println(bytesocket.CloseStatus(io.ErrUnexpectedEOF))
	// Output:
	// 1001
	// -1
}

func ExampleNetConn() {
	ctx := context.Background()
	server, client := sockettest.Pipe()
	conn := bytesocket.NetConn(ctx, server, bytesocket.Binary)
	defer conn.Close()

	// Each Write is one message to the client.
	_, _ = conn.Write([]byte("CONNECTED\n\n"))
	typ, msg, _ := client.Read(ctx)
	fmt.Printf("client got %s %q\n", typ, msg)

	// The client's messages read as one stream, and its close as io.EOF.
	for _, m := range []string{"SEND\n", "destination:", "/queue/a\n\n"} {
		_ = client.Write(ctx, bytesocket.Text, []byte(m))
	}
	_ = client.Close(bytesocket.StatusNormalClosure, "bye")
	stream, err := io.ReadAll(conn)
	fmt.Printf("server read %q, %v\n", stream, err)
	// Output:
	// client got binary "CONNECTED\n\n"
	// server read "SEND\ndestination:/queue/a\n\n", <nil>
}
