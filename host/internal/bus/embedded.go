package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is an in-process Kafka-protocol broker (franz-go's kfake) that
// keeps its logs and committed offsets in a data directory, for running
// medgate on one machine without a Kafka cluster. It is a single broker
// without replication: use a real Kafka cluster where that matters.
//
// Produced records reach the operating system before they are acknowledged
// and survive a crash of the process, like Kafka's default flush policy;
// only a crash of the machine can lose the latest of them. One process at a
// time may use a data directory.
type Embedded struct {
	cluster *kfake.Cluster
	addrs   []string
}

// StartEmbedded starts the broker on listenAddr (host:port; port 0 picks a
// free port; an empty host means 127.0.0.1) with its data in dataDir, which
// is created if needed. On first start it creates topics with the given
// number of partitions; later starts reload the directory and create only
// topics that are new.
//
// The broker tells clients to connect to the address it listens on, so
// listenAddr must be one that clients can reach (not 0.0.0.0).
func StartEmbedded(dataDir, listenAddr string, topics []string, partitions int) (*Embedded, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("start embedded Kafka: empty data directory: give a directory to keep messages in")
	}
	if partitions < 1 {
		return nil, fmt.Errorf("start embedded Kafka: %d partitions: use at least 1", partitions)
	}
	host, portStr, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return nil, fmt.Errorf("start embedded Kafka: listen address %q: %w (use host:port, e.g. 127.0.0.1:9092)", listenAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("start embedded Kafka: listen address %q: port %q is not a number from 0 to 65535", listenAddr, portStr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("start embedded Kafka: create data directory: %w", err)
	}

	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.DataDir(dataDir),
		kfake.ClusterID("medgate-embedded"),
		kfake.DefaultNumPartitions(partitions),
		kfake.WithLogger(kfakeLogger{slog.Default()}),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(partitions), topics...))
	}
	if host != "127.0.0.1" {
		opts = append(opts, kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}))
	}
	cluster, err := kfake.NewCluster(opts...)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("start embedded Kafka on %s: %w; another program listens there (a medgate or a Kafka broker already running?): stop it, or choose another kafka.embedded.listen address", listenAddr, err)
	}
	if err != nil {
		return nil, fmt.Errorf("start embedded Kafka on %s with data in %s: %w", listenAddr, dataDir, err)
	}
	e := &Embedded{cluster: cluster, addrs: cluster.ListenAddrs()}

	if len(topics) > 0 {
		// Topics added to the configuration since the directory was
		// created are not seeded by a reload.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := EnsureTopics(ctx, Config{Brokers: e.addrs, ClientID: "medgate-embedded"}, topics, partitions, 1); err != nil {
			e.Close()
			return nil, fmt.Errorf("start embedded Kafka: %w", err)
		}
	}
	return e, nil
}

// Addrs returns the addresses clients bootstrap from.
func (e *Embedded) Addrs() []string { return append([]string(nil), e.addrs...) }

// Close stops the broker and writes its state to the data directory.
func (e *Embedded) Close() { e.cluster.Close() }

// kfakeLogger forwards kfake's warnings and errors to slog.
type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.log.Error("embedded kafka: " + fmt.Sprintf(msg, args...))
	case kfake.LogLevelWarn:
		l.log.Warn("embedded kafka: " + fmt.Sprintf(msg, args...))
	}
}
