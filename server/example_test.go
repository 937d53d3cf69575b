package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/client"
	"github.com/ferrygw/ferry/server"
)

// A gateway serves services, /client.js and a demo page. The handler sees
// a bytesocket.Socket whatever carries it.
func ExampleGateway() {
	g := server.NewGateway([]string{"https://app.example"}, slog.Default())
	g.Handle("/shout", server.ServiceConfig{Protocols: []string{"shout.v1"}}, func(s bytesocket.Socket) {
		ctx := context.Background()
		for {
			typ, msg, err := s.Read(ctx)
			if err != nil {
				return
			}
			_ = s.Write(ctx, typ, []byte(strings.ToUpper(string(msg))))
		}
	})
	ts := httptest.NewServer(g)
	defer ts.Close()

	c, err := client.Dial(context.Background(), ts.URL+"/shout", &client.Options{
		Transport: client.SSE, Protocols: []string{"shout.v1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = c.Write(context.Background(), bytesocket.Text, []byte("hello"))
	_, msg, _ := c.Read(context.Background())
	fmt.Println(string(msg), c.Subprotocol(), c.Transport())
	_ = c.Close(bytesocket.StatusNormalClosure, "")
	<-c.(*client.Conn).Done()
	// Output: HELLO shout.v1 sse
}

// A Service is an http.Handler for one service, to mount in any router
// with the service path stripped.
func ExampleNewService() {
	svc := server.NewService(server.ServiceConfig{}, server.Echo)
	mux := http.NewServeMux()
	mux.Handle("/echo", http.StripPrefix("/echo", svc))
	mux.Handle("/echo/", http.StripPrefix("/echo", svc))
	fmt.Println(svc.Sessions())
	// Output: 0
}
