module github.com/ferrygw/ferry

go 1.26.8

require (
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/rs/cors v1.11.1 // indirect
)
