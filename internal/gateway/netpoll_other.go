//go:build !linux

package gateway

// poller is Linux's (netpoll_linux.go); elsewhere every connection keeps a reading
// goroutine.
type poller struct{}

func newPoller() *poller { return nil }

func (p *poller) arm(*socket) bool { return false }

func (p *poller) remove(*socket) {}
