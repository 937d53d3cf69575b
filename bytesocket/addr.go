package bytesocket

import "net"

// netName is the network of the errors and addresses NetConn reports.
const netName = "bytesocket"

// addr is a net.Addr for an end that has no better one.
type addr string

func (a addr) Network() string { return netName }
func (a addr) String() string  { return string(a) }

// LocalAddr returns an address with network "bytesocket": a Socket does
// not expose its local address.
func (c *netConn) LocalAddr() net.Addr { return addr("local") }

// RemoteAddr returns the Socket's RemoteAddr, or an address with network
// "bytesocket" when it has none.
func (c *netConn) RemoteAddr() net.Addr {
	if a := c.s.RemoteAddr(); a != nil {
		return a
	}
	return addr("remote")
}
