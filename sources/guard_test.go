package sources

import (
	"net/netip"
	"strings"
	"testing"
)

func TestGuardClassify(t *testing.T) {
	cases := []struct {
		addr string
		want string // "" for allowed, else a word of the reason
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"147.67.34.30", ""}, // an ec.europa.eu address
		{"2001:4860::8888", ""},
		{"2a01:7e00::1", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8

		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"64:ff9b::7f00:1", "loopback"},
		{"2002:7f00:1::1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.254", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"169.254.169.254", "link-local"},
		{"::ffff:169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"100.64.1.1", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "this network"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"192.0.0.170", "IETF"},
		{"198.18.0.1", "benchmarking"},
		{"fec0::1", "site-local"},
		{"::7f00:1", "IPv4-compatible"},
		{"64:ff9b:1::1", "NAT64"},
		{"100::1", "discard"},
	}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			got := guardClassify(netip.MustParseAddr(c.addr))
			switch {
			case c.want == "" && got != "":
				t.Errorf("guardClassify(%s) = %q, want allowed", c.addr, got)
			case c.want != "" && !strings.Contains(got, c.want):
				t.Errorf("guardClassify(%s) = %q, want a reason with %q", c.addr, got, c.want)
			}
		})
	}
	// Just outside the blocked ranges.
	for _, a := range []string{"172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "198.20.0.1", "11.0.0.1", "223.255.255.255"} {
		if got := guardClassify(netip.MustParseAddr(a)); got != "" {
			t.Errorf("guardClassify(%s) = %q, want allowed", a, got)
		}
	}
}

func TestGuardControlNamesTheAddress(t *testing.T) {
	f := NewFetcher(FetcherOptions{})
	defer f.Close()
	err := f.guardControl("tcp4", "169.254.169.254:80", nil)
	if err == nil || !strings.Contains(err.Error(), "169.254.169.254") || !strings.Contains(err.Error(), "link-local") {
		t.Fatalf("guardControl(169.254.169.254:80) = %v, want a refusal naming the address", err)
	}
	if err := f.guardControl("tcp4", "8.8.8.8:443", nil); err != nil {
		t.Fatalf("guardControl(8.8.8.8:443) = %v, want nil", err)
	}
	open := NewFetcher(FetcherOptions{AllowPrivate: true})
	defer open.Close()
	if err := open.guardControl("tcp6", "[::1]:80", nil); err != nil {
		t.Fatalf("with AllowPrivate, guardControl([::1]:80) = %v, want nil", err)
	}
}
