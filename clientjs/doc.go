// Package clientjs embeds client.js, Ferry's browser client, and serves it.
//
// client.js is one dependency-free ES5 file: loaded with a script tag it
// defines the global Ferry, whose Ferry.WebSocket is a drop-in WebSocket
// that carries the session over a resumable WebSocket, an event stream plus
// POSTs, or long-polling (docs/PROTOCOL.md). Its unit tests live in
// clientjs/test and run with `npm test` in the repository root.
//
// [Handler] serves the file with a strong ETag derived from its content, so
// a browser revalidates it cheaply and always picks up a new build; see
// [Handler] for the caching rules. [Source] returns the bytes, for callers
// that inline or bundle the script themselves.
package clientjs
