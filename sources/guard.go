package sources

import (
	"fmt"
	"net/netip"
	"syscall"
)

// guardRefusedError says that a connection was not made because the address
// it would reach is not a public unicast address.
type guardRefusedError struct {
	Addr   netip.AddrPort
	Reason string
}

func (e *guardRefusedError) Error() string {
	return fmt.Sprintf("%s is %s; fetch.allow_private is off", e.Addr.Addr(), e.Reason)
}

// guardClassify says why ip must not be reached from a public fetcher, or ""
// when it is an ordinary public unicast address. IPv4 addresses written in
// IPv6 form (mapped, NAT64, 6to4) are judged by the IPv4 address inside.
func guardClassify(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		return guardClassify(ip.Unmap())
	}
	switch {
	case !ip.IsValid():
		return "not a valid address"
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsMulticast():
		return "a multicast address"
	}
	if ip.Is4() {
		return guardClassify4(ip.As4())
	}
	return guardClassify6(ip.As16())
}

func guardClassify4(b [4]byte) string {
	switch {
	case b[0] == 0:
		return "in 0.0.0.0/8 (this network)"
	case b == [4]byte{255, 255, 255, 255}:
		return "the broadcast address"
	case b[0] >= 240:
		return "a reserved address (240.0.0.0/4)"
	case b[0] == 100 && b[1]&0xc0 == 64:
		return "a shared (carrier-grade NAT) address"
	case b[0] == 192 && b[1] == 0 && b[2] == 0:
		return "an IETF protocol address (192.0.0.0/24)"
	case b[0] == 198 && b[1]&0xfe == 18:
		return "a benchmarking address (198.18.0.0/15)"
	}
	return ""
}

func guardClassify6(b [16]byte) string {
	var zero [10]byte
	switch {
	case [10]byte(b[:10]) == zero && b[10] == 0 && b[11] == 0:
		// ::a.b.c.d, the deprecated IPv4-compatible form (:: and ::1 are caught before).
		return "an IPv4-compatible IPv6 address (deprecated)"
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && [8]byte(b[4:12]) == [8]byte{}:
		// 64:ff9b::/96, NAT64 well-known prefix: the IPv4 address is in the last 4 bytes.
		return guardClassify(netip.AddrFrom4([4]byte(b[12:16])))
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1:
		return "a local-use NAT64 address (64:ff9b:1::/48)"
	case b[0] == 0x20 && b[1] == 0x02:
		// 2002::/16, 6to4: the IPv4 address follows the prefix.
		if r := guardClassify(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
			return r + " in 6to4 form"
		}
	case b[0] == 0x01 && b[1] == 0x00 && [6]byte(b[2:8]) == [6]byte{}:
		return "a discard-only address (100::/64)"
	case b[0] == 0xfe && b[1]&0xc0 == 0xc0:
		return "a site-local address (fec0::/10)"
	}
	return ""
}

// guardControl runs after DNS and before every connect, for every address the
// dialer tries, so redirects and DNS answers that change between lookups
// (rebinding) cannot reach a private address.
func (f *Fetcher) guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("sources: cannot check dial address %q: %w", address, err)
	}
	ap = netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port())
	if f.allowPrivate {
		return nil
	}
	if f.fetchDialAllow != nil && f.fetchDialAllow(ap) {
		return nil
	}
	if reason := guardClassify(ap.Addr()); reason != "" {
		return &guardRefusedError{Addr: ap, Reason: reason}
	}
	return nil
}
