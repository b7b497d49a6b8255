// Package nettest gives tests a loopback address that refuses connections.
//
// It has its own home because the provider's and the CLI's tests both need
// an endpoint that is surely not there. Closing a listener and using its
// port is not that: until the test dials it, any process on the machine
// (another test's server, an outgoing connection's ephemeral port) may take
// the port, and the dial is then answered or hangs instead of being refused.
package nettest

import (
	"fmt"
	"syscall"
	"testing"
)

// RefusedAddr returns "127.0.0.1:PORT" for a TCP port that is bound but not
// listening, held until the test ends: a connection to it is refused (RST),
// and no other socket can bind the port meanwhile.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind 127.0.0.1:0: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok || in.Port == 0 {
		t.Fatalf("getsockname: %#v", sa)
	}
	return fmt.Sprintf("127.0.0.1:%d", in.Port)
}
