package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// passMeter reads, for a pass-through row, the CPU time (user + system,
// from /proc) of the host, the ledger plugin, the benchmark process (the
// Kafka clients playing the platform) and the broker this process started,
// and how busy the whole machine was (1 − idle share of /proc/stat).
type passMeter struct {
	pids        map[string]int
	t0          map[string]float64
	busy0, all0 float64
}

func startPassCPU(cfgPath string) *passMeter {
	host, plugins := procs(cfgPath)
	m := &passMeter{pids: map[string]int{"host": host, "plugin": plugins["ledger"], "bench": os.Getpid()}, t0: map[string]float64{}}
	if pid := brokerPID(); pid != 0 {
		m.pids["broker"] = pid
	}
	for k, pid := range m.pids {
		m.t0[k] = cpuSeconds(pid)
	}
	m.busy0, m.all0 = machineTicks()
	return m
}

// perMessage adds host-, plugin-, bench- and broker-µs/msg and
// machine-busy-% to kv.
func (m *passMeter) perMessage(kv map[string]float64, n int) {
	if n == 0 {
		return
	}
	for k, pid := range m.pids {
		kv[k+"-µs/msg"] = (cpuSeconds(pid) - m.t0[k]) * 1e6 / float64(n)
	}
	if busy, all := machineTicks(); all > m.all0 {
		kv["machine-busy-%"] = 100 * (busy - m.busy0) / (all - m.all0)
	}
}

// machineTicks returns the busy and total jiffies of all CPUs.
func machineTicks() (busy, all float64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	for i, s := range f[1:] {
		v, _ := strconv.ParseFloat(s, 64)
		all += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, all
}

// brokerPID finds the Kafka broker (kafka.Kafka) started under this
// process, 0 if there is none (other agents' brokers are not ours).
func brokerPID() int {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	var javas []int
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 {
				if f := strings.Fields(string(st[i+1:])); len(f) > 1 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
		// The supervising shell has the same arguments: take the JVM.
		comm, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		if cmd, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline")); err == nil && bytes.Contains(cmd, []byte("\x00kafka.Kafka\x00")) && strings.TrimSpace(string(comm)) == "java" {
			javas = append(javas, pid)
		}
	}
	me := os.Getpid()
	for _, pid := range javas {
		for p, n := parent[pid], 0; p > 1 && n < 10; p, n = parent[p], n+1 {
			if p == me {
				return pid
			}
		}
	}
	return 0
}
