package wire

// Batch is what one write of a carrier sends (emulation.Leg.Next makes
// them): frames, an acknowledgement of inbound frames the application has
// read, or nothing (the wait ran out: send a heartbeat). An event stream or
// long-poll body carries a batch as one event (AppendBatchEvent), a Ferry
// WebSocket as consecutive messages (AppendWSBatch).
type Batch struct {
	Frames []Frame
	Ack    uint64 // highest inbound Seq to acknowledge; 0 if none is due
	// Skip reports that frames after the leg's previous batch and before
	// Frames[0] were acknowledged over another path (a POST, or a carrier
	// that was still delivering when this leg took over) and are left out.
	// A carrier that numbers frames by their order, the Ferry WebSocket,
	// must restate the number of Frames[0] before it (PROTOCOL.md §6).
	Skip bool
}

// Empty reports whether the batch carries nothing.
func (b Batch) Empty() bool { return len(b.Frames) == 0 && b.Ack == 0 }
