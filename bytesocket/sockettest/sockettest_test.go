package sockettest_test

import (
	"testing"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
)

func TestPipe(t *testing.T) {
	sockettest.Run(t, func(*testing.T) (server, client bytesocket.Socket, stop func()) {
		server, client = sockettest.Pipe()
		return server, client, func() {
			_ = server.Close(bytesocket.StatusNormalClosure, "")
			_ = client.Close(bytesocket.StatusNormalClosure, "")
		}
	})
}
