package cloud

import "net"

// IsLoopback says whether a connector's endpoint host is this machine
// (localhost or a loopback address): the only place an emulator may be
// reached over plain HTTP or with relaxed checks.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
