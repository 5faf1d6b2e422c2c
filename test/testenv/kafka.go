// Package testenv starts the real services that medgate's integration tests
// run against, once per test process; TestMain stops them with Stop.
//
// Kafka: Kafka returns the bootstrap address of one real Apache Kafka broker
// (KRaft, broker and controller in one JVM) started from the jars that
// deploy/kafka/fetch.sh downloads from Maven Central; StopKafka stops it, and
// it dies with the test process in any case. NewKafkaBroker starts a broker
// of one test alone that the test may stop and start again on the same ports
// and data. When Java or the jars are
// missing, tests that need the broker are skipped, or fail when
// MEDGATE_REQUIRE_SERVICES=1 (as in CI).
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/segmentio/kafka-go"
)

// Environment variables read by Kafka.
const (
	// KafkaJarsEnv names the directory holding the broker's jars; the
	// default is <repo>/.cache/kafka/jars.
	KafkaJarsEnv = "MEDGATE_KAFKA_JARS"
	// KafkaStartTimeoutEnv bounds the broker's start, as a Go duration;
	// the default is 90s.
	KafkaStartTimeoutEnv = "MEDGATE_KAFKA_START_TIMEOUT"
	// RequireServicesEnv, set to 1, turns a missing service into a test
	// failure instead of a skip.
	RequireServicesEnv = "MEDGATE_REQUIRE_SERVICES"
)

// kafkaHost is the only interface the test broker listens on.
const kafkaHost = "127.0.0.1"

// kafkaSASLUser is the user of the SASL listener.
const kafkaSASLUser = "medgate"

// kafkaBroker is the broker of this test process.
var kafkaBroker struct {
	mu      sync.Mutex
	tried   bool
	skip    string // why the broker cannot run here
	err     error  // why it failed to start
	addrs   []string
	sasl    KafkaSASLListener
	version string
	startup time.Duration
	proc    *kafkaProc
}

type kafkaProc struct {
	cmd    *exec.Cmd      // kafkaSupervise running the JVM
	stdin  io.WriteCloser // closing it stops the broker
	dir    string         // temporary directory: config, data, log
	log    string         // the broker's stdout and stderr
	exited chan struct{}  // closed when the JVM has exited
}

// kafkaSupervise runs the broker ($2...) as a child of a shell that kills it
// when the shell's stdin closes: when StopKafka closes it, or when the test
// process dies in any way, so no broker outlives the tests. The shell then
// removes the broker's directory ($1).
const kafkaSupervise = `
dir=$1; shift
exec 3<&0
"$@" </dev/null 3<&- &
broker=$!
( read -r _ <&3; : >"$dir/stopping"; kill -KILL "$broker" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$broker"
rc=$?
if [ -e "$dir/stopping" ]; then rm -rf "$dir"; else kill "$watcher" 2>/dev/null; fi
exit "$rc"
`

// KafkaSASLListener is the broker's second client listener, which requires
// SASL authentication: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 all accept
// Username and Password.
type KafkaSASLListener struct {
	Addrs              []string
	Username, Password string
}

// KafkaSASL is like Kafka but returns the listener that requires SASL.
func KafkaSASL(t testing.TB) KafkaSASLListener {
	t.Helper()
	Kafka(t)
	kafkaBroker.mu.Lock()
	defer kafkaBroker.mu.Unlock()
	l := kafkaBroker.sasl
	l.Addrs = append([]string(nil), l.Addrs...)
	return l
}

// Kafka returns the bootstrap addresses of this test process's Kafka broker,
// starting it on first use. It skips the test when Java 17+ or the broker
// jars are missing (fails instead when MEDGATE_REQUIRE_SERVICES=1), and fails
// it when the broker does not start or has died.
func Kafka(t testing.TB) []string {
	t.Helper()
	kafkaBroker.mu.Lock()
	defer kafkaBroker.mu.Unlock()
	if !kafkaBroker.tried {
		kafkaBroker.tried = true
		kafkaStart()
		if kafkaBroker.err == nil && kafkaBroker.skip == "" {
			t.Logf("testenv: Kafka %s started in %s at %v", kafkaBroker.version, kafkaBroker.startup.Round(time.Millisecond), kafkaBroker.addrs)
		}
	}
	switch {
	case kafkaBroker.skip != "":
		msg := "testenv: real Kafka unavailable: " + kafkaBroker.skip + "; run deploy/kafka/fetch.sh (or make test) to install it"
		if os.Getenv(RequireServicesEnv) == "1" {
			t.Fatal(msg + " (" + RequireServicesEnv + "=1 requires it)")
		}
		t.Skip(msg)
	case kafkaBroker.err != nil:
		t.Fatalf("testenv: %v", kafkaBroker.err)
	}
	select {
	case <-kafkaBroker.proc.exited:
		t.Fatalf("testenv: the Kafka broker has exited; its log ends with:\n%s", kafkaLogTail(kafkaBroker.proc.log, 40))
	default:
	}
	return append([]string(nil), kafkaBroker.addrs...)
}

// StopKafka stops the broker started by Kafka, if any, and deletes its data.
// Call it from TestMain after m.Run.
func StopKafka() {
	kafkaBroker.mu.Lock()
	defer kafkaBroker.mu.Unlock()
	if kafkaBroker.proc != nil {
		kafkaBroker.proc.stop()
	}
	kafkaBroker.tried, kafkaBroker.skip, kafkaBroker.err, kafkaBroker.addrs, kafkaBroker.proc = false, "", nil, nil, nil
	kafkaBroker.sasl = KafkaSASLListener{}
}

// kafkaTools are what every broker of this process needs.
type kafkaTools struct {
	java, jars, deploy, version string
	timeout                     time.Duration
}

// kafkaFind locates Java and the jars. skip says why the broker cannot run
// here; err says the environment is wrong.
func kafkaFind() (tl kafkaTools, skip string, err error) {
	root, err := kafkaRepoRoot()
	if err != nil {
		return tl, "", err
	}
	tl.jars = os.Getenv(KafkaJarsEnv)
	if tl.jars == "" {
		tl.jars = filepath.Join(root, ".cache", "kafka", "jars")
	}
	brokerJars, _ := filepath.Glob(filepath.Join(tl.jars, "kafka_2.13-*.jar"))
	if len(brokerJars) == 0 {
		return tl, "no kafka_2.13 jar in " + tl.jars, nil
	}
	tl.version = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(brokerJars[0]), "kafka_2.13-"), ".jar")
	if tl.java, err = kafkaJava(); err != nil {
		return tl, err.Error(), nil
	}
	tl.timeout = 90 * time.Second
	if s := os.Getenv(KafkaStartTimeoutEnv); s != "" {
		if tl.timeout, err = time.ParseDuration(s); err != nil {
			return tl, "", fmt.Errorf("parse %s=%q: %w (use a Go duration such as 2m)", KafkaStartTimeoutEnv, s, err)
		}
	}
	tl.deploy = filepath.Join(root, "deploy", "kafka")
	return tl, "", nil
}

// kafkaStart fills the kafka variable; the caller holds kafkaBroker.mu.
func kafkaStart() {
	tl, skip, err := kafkaFind()
	kafkaBroker.skip, kafkaBroker.err, kafkaBroker.version = skip, err, tl.version
	if skip != "" || err != nil {
		return
	}
	start := time.Now()
	// Another process may take a free port between our probe and the
	// broker's bind: retry with new ports in that case.
	for attempt := 1; ; attempt++ {
		p, l, err := kafkaLaunch(tl)
		if err == nil {
			kafkaBroker.proc, kafkaBroker.addrs, kafkaBroker.sasl, kafkaBroker.startup = p, []string{l.plain}, l.sasl, time.Since(start)
			return
		}
		portTaken := p != nil && strings.Contains(kafkaLogTail(p.log, 200), "Address already in use")
		if p != nil {
			p.stop()
		}
		if !portTaken || attempt == 3 {
			kafkaBroker.err = err
			return
		}
	}
}

// kafkaListeners are the client listeners of a launched broker.
type kafkaListeners struct {
	plain string
	sasl  KafkaSASLListener
}

// kafkaNode is a formatted broker: its configuration and data in dir, its
// log, and its listeners. It can run several times in a row on the same
// ports and data.
type kafkaNode struct {
	tl        kafkaTools
	dir       string
	props     string
	log       string
	listeners kafkaListeners
}

// kafkaFormat writes the configuration of a broker with fresh ports into
// dir, with the lines of extra ("key=value") after the template's, and
// formats its log directory.
func kafkaFormat(tl kafkaTools, dir string, extra ...string) (*kafkaNode, error) {
	n := &kafkaNode{tl: tl, dir: dir, props: filepath.Join(dir, "server.properties"), log: filepath.Join(dir, "broker.log")}
	ports, err := freePorts(kafkaHost, 3)
	if err != nil {
		return n, fmt.Errorf("find free ports for Kafka: %w", err)
	}
	brokerPort, controllerPort, saslPort := ports[0], ports[1], ports[2]
	password := kafkaRandom(12)
	if err := kafkaRenderConfig(filepath.Join(tl.deploy, "server.properties.tmpl"), n.props, map[string]any{
		"Host":           kafkaHost,
		"BrokerPort":     brokerPort,
		"ControllerPort": controllerPort,
		"SASLPort":       saslPort,
		"SASLUser":       kafkaSASLUser,
		"SASLPassword":   password,
		"LogDir":         filepath.Join(dir, "data"),
	}, extra); err != nil {
		return n, err
	}
	logFile, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return n, fmt.Errorf("create Kafka log file: %w", err)
	}
	defer logFile.Close()
	format := exec.Command(tl.java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", n.log4j(),
		"-cp", filepath.Join(tl.jars, "*"), "kafka.tools.StorageTool",
		"format", "--standalone", "--cluster-id="+kafkaClusterID(), "-c", n.props, // "=": an id may start with "-"
		"--add-scram", "SCRAM-SHA-256=[name="+kafkaSASLUser+",password="+password+"]",
		"--add-scram", "SCRAM-SHA-512=[name="+kafkaSASLUser+",password="+password+"]")
	format.Stdout, format.Stderr = logFile, logFile
	if err := format.Run(); err != nil {
		return n, fmt.Errorf("format Kafka storage with kafka.tools.StorageTool: %w; log:\n%s", err, kafkaLogTail(n.log, 40))
	}
	n.listeners.plain = net.JoinHostPort(kafkaHost, strconv.Itoa(brokerPort))
	n.listeners.sasl = KafkaSASLListener{
		Addrs:    []string{net.JoinHostPort(kafkaHost, strconv.Itoa(saslPort))},
		Username: kafkaSASLUser,
		Password: password,
	}
	return n, nil
}

func (n *kafkaNode) log4j() string {
	return "-Dlog4j2.configurationFile=" + filepath.Join(n.tl.deploy, "log4j2.properties")
}

// run starts the broker under kafkaSupervise, which deletes scratch when
// the broker is stopped, and waits until it answers metadata requests. On
// error the returned process (if any) still needs stop.
func (n *kafkaNode) run(scratch string) (*kafkaProc, error) {
	p := &kafkaProc{dir: scratch, log: n.log, exited: make(chan struct{})}
	logFile, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return p, fmt.Errorf("open Kafka log file: %w", err)
	}
	defer logFile.Close()
	p.cmd = exec.Command("/bin/sh", "-c", kafkaSupervise, "sh", scratch,
		n.tl.java, "-Xmx512m", "-Xms128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.awt.headless=true", n.log4j(), "-Dkafka.logs.dir="+filepath.Join(scratch, "logs"),
		"-cp", filepath.Join(n.tl.jars, "*"), "kafka.Kafka", n.props)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return p, fmt.Errorf("start Kafka broker: %w", err)
	}
	if err := p.cmd.Start(); err != nil {
		return p, fmt.Errorf("start Kafka broker with %s: %w", n.tl.java, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	return p, kafkaWaitReady(p, n.listeners.plain, n.tl.timeout)
}

// kafkaLaunch formats a fresh broker in a new temporary directory and
// starts it, waiting until it answers metadata requests. On error the
// returned process (if any) still needs stop; stop deletes the directory.
func kafkaLaunch(tl kafkaTools) (*kafkaProc, kafkaListeners, error) {
	dir, err := os.MkdirTemp("", "medgate-kafka-")
	if err != nil {
		return nil, kafkaListeners{}, fmt.Errorf("create Kafka temp directory: %w", err)
	}
	n, err := kafkaFormat(tl, dir)
	if err != nil {
		return &kafkaProc{dir: dir, log: n.log, exited: make(chan struct{})}, kafkaListeners{}, err
	}
	p, err := n.run(dir)
	return p, n.listeners, err
}

// kafkaWaitReady polls the broker with metadata requests until it lists
// itself, the JVM exits, or timeout passes.
func kafkaWaitReady(p *kafkaProc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		tr := &kafka.Transport{DialTimeout: time.Second}
		md, err := (&kafka.Client{Addr: kafka.TCP(addr), Transport: tr}).Metadata(ctx, &kafka.MetadataRequest{})
		tr.CloseIdleConnections()
		cancel()
		if err == nil && len(md.Brokers) > 0 {
			return nil
		}
		last = err
		if last == nil {
			last = errors.New("metadata lists no broker yet")
		}
		select {
		case <-p.exited:
			return fmt.Errorf("the Kafka broker exited during start (%v); its log ends with:\n%s", p.cmd.ProcessState, kafkaLogTail(p.log, 40))
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Kafka broker at %s did not answer metadata within %s (last error: %v; raise %s if the machine is slow); its log ends with:\n%s",
				addr, timeout, last, KafkaStartTimeoutEnv, kafkaLogTail(p.log, 40))
		}
	}
}

// stop kills the broker and deletes its directory.
func (p *kafkaProc) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	_ = os.RemoveAll(p.dir)
}

// kafkaJava finds a java of version 17 or later, preferring $JAVA_HOME.
func kafkaJava() (string, error) {
	java := ""
	if home := os.Getenv("JAVA_HOME"); home != "" {
		if _, err := os.Stat(filepath.Join(home, "bin", "java")); err == nil {
			java = filepath.Join(home, "bin", "java")
		}
	}
	if java == "" {
		p, err := exec.LookPath("java")
		if err != nil {
			return "", errors.New("no java on PATH (Kafka 4 needs Java 17+)")
		}
		java = p
	}
	out, err := exec.Command(java, "-version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -version failed: %v", java, err)
	}
	// `openjdk version "17.0.15" 2025-04-15` or `java version "1.8.0_402"`.
	_, rest, _ := strings.Cut(string(out), `version "`)
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	major, err := strconv.Atoi(rest[:i])
	if err != nil {
		return "", fmt.Errorf("cannot read the version of %s from %q", java, out)
	}
	if major < 17 {
		return "", fmt.Errorf("%s is Java %d; Kafka 4 needs Java 17+", java, major)
	}
	return java, nil
}

// kafkaRepoRoot walks up from the working directory to the go.mod.
func kafkaRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find repository root: no go.mod above %s", dir)
		}
	}
}

func kafkaRenderConfig(tmplPath, outPath string, data map[string]any, extra []string) error {
	tmpl, err := template.New(filepath.Base(tmplPath)).Option("missingkey=error").ParseFiles(tmplPath)
	if err != nil {
		return fmt.Errorf("read Kafka config template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return fmt.Errorf("render %s: %w", tmplPath, err)
	}
	for _, l := range extra {
		buf.WriteString("\n" + l + "\n")
	}
	if err := os.WriteFile(outPath, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write Kafka config: %w", err)
	}
	return nil
}

// kafkaClusterID returns a random cluster id as StorageTool random-uuid
// would (16 bytes, URL-safe base64 without padding), without starting a JVM.
func kafkaClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // IETF variant
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// kafkaRandom returns n random bytes in hex.
func kafkaRandom(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// kafkaLogTail returns the last n lines of the file at path.
func kafkaLogTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(empty log)"
	}
	return strings.Join(lines, "\n")
}
