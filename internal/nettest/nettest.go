// Package nettest gives tests loopback ports that nobody else takes: one
// that refuses connections, and one reserved for a server the test starts.
//
// It has its own home because the provider's, the CLI's, the anchors' and
// the witness harness's tests all need them. Closing a listener and using
// its port later is neither: until then any process on the machine
// (another test's server, an outgoing connection's ephemeral port) may take
// the port, and the dial is then answered by the wrong server, or the
// server the test starts cannot bind.
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
	fd := socket(t)
	return fmt.Sprintf("127.0.0.1:%d", bindLoopback(t, fd))
}

// ReservePort returns a TCP port on 127.0.0.1 for a server the test starts
// later (a real node given -listen 127.0.0.1:PORT). Until the test ends a
// socket stays bound to it with SO_REUSEADDR and never listens: the kernel
// gives the port to no other socket (no bind to port 0, no outgoing
// connection), while a server that binds it with SO_REUSEADDR, as every Go
// server does, can listen on it, and again after a restart.
func ReservePort(t testing.TB) int {
	t.Helper()
	fd := socket(t)
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		t.Fatalf("SO_REUSEADDR: %v", err)
	}
	return bindLoopback(t, fd)
}

// socket returns a new TCP socket, closed when the test ends and not
// inherited by the processes the test starts.
func socket(t testing.TB) int {
	t.Helper()
	syscall.ForkLock.RLock() // as the net package does: no exec inherits it meanwhile
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return fd
}

// bindLoopback binds fd to a free port on 127.0.0.1 and returns the port.
func bindLoopback(t testing.TB, fd int) int {
	t.Helper()
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
	return in.Port
}
