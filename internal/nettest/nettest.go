// Package nettest has the network helpers tests share: loopback addresses nothing listens on.
package nettest

import (
	"net"
	"strconv"
	"testing"
)

// FreePort returns a loopback TCP port nothing listened on when it was chosen (the kernel's
// pick), for a server a test starts next.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClosedAddr returns a loopback "host:port" nothing listens on: a connection to it is refused.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
