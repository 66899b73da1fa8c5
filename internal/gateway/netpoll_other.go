//go:build !linux

package gateway

import "net"

// poller is Linux's (netpoll_linux.go); elsewhere every connection keeps Go's net.Conn
// and a reading goroutine.
type poller struct{}

// fdConn is Linux's adopted connection; never made elsewhere.
type fdConn struct{ net.Conn }

func newPoller() *poller { return nil }

func (c *fdConn) tryWrite([]byte) (int, error) { return 0, nil }

func (p *poller) adopt(net.Conn, *socket) *fdConn { return nil }

func (p *poller) arm(*socket) bool { return false }

func (p *poller) remove(*socket) {}
