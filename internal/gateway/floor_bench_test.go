package gateway

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkLoopbackWriteFloor is what the kernel charges for one small frame (66
// bytes: a 64-byte message and its header) written to one of many loopback clients,
// each parked in a read as a real client is: the floor under a batch post, whose 10,000
// deliveries are 10,000 of these writes, and under a push. No WebSocket, no gateway:
// net.Conn writes in a loop, the readers in the same process (as bench/run's clients
// share the machine with the gateway).
//
//	go test -run '^$' -bench LoopbackWriteFloor ./internal/gateway
func BenchmarkLoopbackWriteFloor(b *testing.B) {
	servers := loopbackClients(b, 1000)
	frame := make([]byte, 66)
	i := 0
	for b.Loop() {
		if _, err := servers[i%len(servers)].Write(frame); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLoopbackWriteFloorParallel is the same with a writer per processor, as a
// batch post spreads its sends (ns/op is per write, all writers together).
func BenchmarkLoopbackWriteFloorParallel(b *testing.B) {
	servers := loopbackClients(b, 1000)
	frame := make([]byte, 66)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := servers[int(next.Add(1))%len(servers)].Write(frame); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// loopbackClients opens n loopback connections whose client ends read and drop what
// they get, each in its goroutine; it returns the server ends. All of it ends with b.
func loopbackClients(b *testing.B, n int) []net.Conn {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	servers := make([]net.Conn, 0, n)
	var readers sync.WaitGroup
	b.Cleanup(func() {
		for _, c := range servers {
			c.Close()
		}
		readers.Wait()
	})
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			c.Close()
			b.Fatal(err)
		}
		servers = append(servers, s)
		readers.Go(func() {
			defer c.Close()
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		})
	}
	return servers
}
