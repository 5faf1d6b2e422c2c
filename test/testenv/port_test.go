package testenv

import (
	"net"
	"strconv"
	"testing"
)

func TestParsePortRange(t *testing.T) {
	for _, tc := range []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"32768\t60999\n", 32768, 60999, true},
		{"1024 65535", 1024, 65535, true},
		{"", 0, 0, false},
		{"32768", 0, 0, false},
		{"32768 60999 1", 0, 0, false},
		{"x 60999", 0, 0, false},
		{"60999 32768", 0, 0, false},
		{"0 100", 0, 0, false},
		{"1 70000", 0, 0, false},
	} {
		lo, hi, err := parsePortRange(tc.in)
		if (err == nil) != tc.ok || lo != tc.lo || hi != tc.hi {
			t.Errorf("parsePortRange(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, lo, hi, err, tc.lo, tc.hi, tc.ok)
		}
	}
}

// TestFreePorts asks for the three ports of a Kafka broker many times: they
// must differ from each other (a broker refuses two listeners on one port,
// which failed CI once when two probes in a row got the same port back),
// lie below the kernel's ephemeral range and be free to bind.
func TestFreePorts(t *testing.T) {
	eLo, _, rangeErr := ephemeralRange()
	for range 200 {
		ports, err := freePorts("127.0.0.1", 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
			t.Fatalf("freePorts returned %v, want three distinct ports", ports)
		}
		for _, p := range ports {
			if rangeErr == nil && eLo-portFloor >= minSpread && (p < portFloor || p >= eLo) {
				t.Fatalf("port %d is not in [%d, %d): the kernel may hand it to anyone", p, portFloor, eLo)
			}
		}
	}
	ports, err := freePorts("127.0.0.1", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d from freePorts is not free: %v", p, err)
		}
		_ = l.Close()
	}
}
