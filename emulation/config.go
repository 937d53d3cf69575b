package emulation

import "time"

// Config holds the limits and timers of emulated sessions. The zero value
// of every field means its default, applied by [Config.WithDefaults].
type Config struct {
	// MaxMessageBytes is the largest message payload accepted in either
	// direction. Default 16 MiB.
	MaxMessageBytes int
	// MaxBodyBytes is the largest upstream POST body. Default
	// 4/3 × MaxMessageBytes + 4096 (one base64-encoded message).
	MaxBodyBytes int64
	// MaxBodyFrames is the most frames one upstream POST body may carry.
	// Default 4096.
	MaxBodyFrames int
	// UploadTimeout bounds the time an upstream POST body may take to
	// arrive, not counting time its delivery waits for the application. A
	// stalled upload then fails (408) and the session can expire. Default
	// 30 s.
	UploadTimeout time.Duration
	// HeaderBytes bounds the opening request's headers that a session keeps
	// for Socket.Header; headers beyond it are dropped. Default 8 KiB.
	HeaderBytes int
	// WindowBytes bounds the payload bytes retained for replay until the
	// client acknowledges them. Writes wait when it is full. Default 1 MiB.
	WindowBytes int
	// WindowMessages bounds the number of retained messages. Default 4096.
	WindowMessages int
	// InboundBytes bounds the bytes received but not yet read by the
	// application, each message counting MessageOverhead besides its
	// payload; upstream requests wait when it is full. Default 1 MiB.
	InboundBytes int
	// Heartbeat is the idle interval after which a downstream writes a
	// heartbeat frame. Default 25 s.
	Heartbeat time.Duration
	// ResumeTimeout is how long a session with no carrier and no request in
	// flight lives before it expires. Default 30 s.
	ResumeTimeout time.Duration
	// PollHold is the longest a long-poll request is held (never longer
	// than Heartbeat). Default 25 s.
	PollHold time.Duration
	// StreamBytes is how many bytes an event stream writes before it ends
	// with a reconnect frame. Default 128 KiB.
	StreamBytes int
	// MaxSessions caps the number of live sessions; 0 means 100,000.
	MaxSessions int
}

// Defaults, as documented in docs/PROTOCOL.md section 9.
const (
	DefaultMaxMessageBytes = 16 << 20
	DefaultMaxBodyFrames   = 4096
	DefaultUploadTimeout   = 30 * time.Second
	DefaultHeaderBytes     = 8 << 10
	DefaultWindowBytes     = 1 << 20
	DefaultWindowMessages  = 4096
	DefaultInboundBytes    = 1 << 20
	DefaultHeartbeat       = 25 * time.Second
	DefaultResumeTimeout   = 30 * time.Second
	DefaultPollHold        = 25 * time.Second
	DefaultStreamBytes     = 128 << 10
	DefaultMaxSessions     = 100000
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	setInt(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = int64(c.MaxMessageBytes)/3*4 + 4096
	}
	setInt(&c.MaxBodyFrames, DefaultMaxBodyFrames)
	setDur(&c.UploadTimeout, DefaultUploadTimeout)
	setInt(&c.HeaderBytes, DefaultHeaderBytes)
	setInt(&c.WindowBytes, DefaultWindowBytes)
	setInt(&c.WindowMessages, DefaultWindowMessages)
	setInt(&c.InboundBytes, DefaultInboundBytes)
	setDur(&c.Heartbeat, DefaultHeartbeat)
	setDur(&c.ResumeTimeout, DefaultResumeTimeout)
	setDur(&c.PollHold, DefaultPollHold)
	setInt(&c.StreamBytes, DefaultStreamBytes)
	setInt(&c.MaxSessions, DefaultMaxSessions)
	return c
}

func setInt(p *int, d int) {
	if *p <= 0 {
		*p = d
	}
}

func setDur(p *time.Duration, d time.Duration) {
	if *p <= 0 {
		*p = d
	}
}
