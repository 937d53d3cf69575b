// Package longpoll implements Ferry's last-resort downstream carrier: a
// GET held until the session has frames or a timeout passes, answered with
// a Content-Length body in event-stream syntax (wire.AppendBatchEvent) so
// the connection is reused. The next poll's last parameter acknowledges
// what the previous one carried (PROTOCOL.md §5.1).
package longpoll
