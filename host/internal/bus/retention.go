package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// retentionAskTimeout bounds each network step of CheckRetention, so that
// a start is not held for long by a question that only leads to a log
// line.
const retentionAskTimeout = 10 * time.Second

// CheckRetention compares how long topic (the requests topic) may keep a
// record with keep, how long the store keeps the outcomes of finished
// messages (retention.messages). If the group's committed offsets are
// ever lost or end up beyond the log (an unclean leader election, the
// embedded broker's data lost: see Consumer), the whole retained log is
// delivered again; a request whose outcome the store has already deleted
// is then processed again and reaches its external system a second time.
//
// A topic keeps a record up to retention.ms plus segment.ms (Kafka deletes
// whole segments, once their newest record is retention.ms old), without
// a limit when retention.ms is -1 or cleanup.policy lacks "delete"
// (compaction alone keeps each key's latest record for good);
// retention.bytes may delete records earlier but guarantees nothing. When
// that exceeds keep, CheckRetention logs a warning (cfg.Logger) naming the
// topic, its settings, keep, and how to make them agree. When the brokers
// cannot be asked (unreachable, the topic missing, DescribeConfigs not
// allowed to this client), it says so at debug level and returns: the
// check only advises. It waits up to retentionAskTimeout per network step,
// and returns early once ctx is done.
func CheckRetention(ctx context.Context, cfg Config, topic string, keep time.Duration) {
	log := cfg.logger().With("topic", topic)
	cantAsk := func(err error) {
		log.Debug("kafka: could not read the requests topic's retention to compare it with the store's retention.messages; the check is skipped (it needs DescribeConfigs on the topic); check by hand that the topic keeps records no longer than retention.messages",
			"retention.messages", keep.String(), "err", err)
	}
	if keep <= 0 {
		return
	}
	sc, err := cfg.saramaConfig()
	if err == nil {
		sc.Net.DialTimeout = retentionAskTimeout
		sc.Net.ReadTimeout = retentionAskTimeout
		sc.Net.WriteTimeout = retentionAskTimeout
		sc.Admin.Timeout = retentionAskTimeout
		sc.Metadata.Retry.Max = 1
		err = cfg.finish(sc)
	}
	if err != nil {
		cantAsk(err)
		return
	}
	type answer struct {
		entries []sarama.ConfigEntry
		err     error
	}
	got := make(chan answer, 1)
	go func() {
		admin, err := sarama.NewClusterAdmin(cfg.Brokers, sc)
		if err != nil {
			got <- answer{err: fmt.Errorf("connect Kafka admin client to %v: %w", cfg.Brokers, err)}
			return
		}
		defer admin.Close()
		results, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic,
			ConfigNames: []string{"retention.ms", "retention.bytes", "segment.ms", "cleanup.policy"}}}, sarama.DescribeConfigsOptions{})
		var entries []sarama.ConfigEntry
		for _, r := range results {
			switch {
			case err != nil || r.Name != topic:
			case !errors.Is(r.ErrorCode, sarama.ErrNoError):
				err = &sarama.DescribeConfigError{Err: r.ErrorCode, ErrMsg: r.ErrorMsg}
			default:
				entries = append(entries, r.Configs...)
			}
		}
		if err != nil {
			err = fmt.Errorf("describe the configuration of topic %s: %w", topic, err)
		}
		got <- answer{entries, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		cantAsk(ctx.Err())
		return
	}
	if a.err != nil {
		cantAsk(a.err)
		return
	}
	values := map[string]string{}
	for _, e := range a.entries {
		values[e.Name] = e.Value
	}
	retention, err := strconv.ParseInt(values["retention.ms"], 10, 64)
	if err != nil {
		cantAsk(fmt.Errorf("topic %s: retention.ms %q: %w", topic, values["retention.ms"], err))
		return
	}
	segment, _ := strconv.ParseInt(values["segment.ms"], 10, 64) // 0 when not given: retention.ms alone
	policy := values["cleanup.policy"]
	if policy == "" {
		policy = "delete" // Kafka's default
	}
	attrs := []any{"retention.ms", values["retention.ms"], "segment.ms", values["segment.ms"], "retention.bytes", values["retention.bytes"],
		"cleanup.policy", policy, "retention.messages", keep.String()}
	const why = "if the consumer group's committed offsets are ever lost or beyond the log end (an unclean leader election, the embedded broker's data lost; see README \"Kafka data loss\"), the retained log is delivered again, and requests whose outcome the store has deleted are processed again and reach their external systems a second time"
	switch {
	case !slices.Contains(strings.Split(strings.ReplaceAll(policy, " ", ""), ","), "delete"):
		log.Warn("kafka: the requests topic keeps records without a time limit (cleanup.policy has no \"delete\"), longer than the store keeps their outcomes (retention.messages); "+why+". Fix: set the topic's cleanup.policy=delete and retention.ms to at most retention.messages minus segment.ms (kafka-configs.sh --alter --entity-type topics --entity-name "+topic+" --add-config cleanup.policy=delete,retention.ms=N)", attrs...)
	case retention < 0:
		log.Warn("kafka: the requests topic keeps records without a time limit (retention.ms=-1), longer than the store keeps their outcomes (retention.messages); "+why+". Fix: set the topic's retention.ms to at most retention.messages minus segment.ms (kafka-configs.sh --alter --entity-type topics --entity-name "+topic+" --add-config retention.ms=N)", attrs...)
	default:
		upTo := time.Duration(1<<63 - 1) // past any keep
		if ms := retention + max(segment, 0); ms >= retention && ms <= int64(upTo/time.Millisecond) {
			upTo = time.Duration(ms) * time.Millisecond
		}
		if upTo <= keep {
			log.Debug("kafka: the requests topic keeps records no longer than the store keeps their outcomes", append(attrs, "topicKeepsUpTo", upTo.String())...)
			return
		}
		log.Warn("kafka: the requests topic may keep records longer than the store keeps their outcomes (retention.ms plus segment.ms is more than retention.messages); "+why+". Fix: lower the topic's retention.ms to at most retention.messages minus segment.ms (kafka-configs.sh --alter --entity-type topics --entity-name "+topic+" --add-config retention.ms=N), or raise retention.messages in medgate's configuration above the topic's retention.ms plus segment.ms",
			append(attrs, "topicKeepsUpTo", upTo.String())...)
	}
}
