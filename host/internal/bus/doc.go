// Package bus is the host's only Kafka client code: an idempotent,
// acknowledged producer, a consumer-group consumer that processes one
// message per key at a time and commits an offset only once every earlier
// message of its partition is finished, topic creation, and an embedded
// Kafka-protocol broker for single-machine deployments.
//
// It is built on github.com/IBM/sarama; the embedded broker is
// github.com/twmb/franz-go/pkg/kfake with a data directory.
//
// Delivery is at least once, and the commit rule is in the types: a
// Handler returns an error, and a message counts as finished only when its
// handler returned nil, or, when the handler deferred it (Defer), when its
// Later is done without error. A message that did not finish (the process
// crashed, the partition was revoked, the consumer stopped, or the handler
// kept failing) is delivered again, so handlers must be idempotent (the
// store maps message ids to outcomes). When a partition is released (a
// rebalance takes it away, or the consumer stops), its running handlers
// and deferred messages may finish, and are committed then, so that a
// plugin call in flight is not cut off with its outcome unknown; but only
// for the release grace (Config.ReleaseGrace, 15s by default, at most half
// the group's rebalance timeout): the handlers' context is then cancelled,
// so that the partition's next owner never delivers a message whose
// handler still runs here, and a deferred message not done by then (its
// reply's acknowledgement late) is not committed, so the next owner
// delivers it again; the member rejoins within the rebalance timeout
// either way. A
// member that learns it has left the group (an unknown member id, an old
// generation, a fenced instance id: it missed its session timeout) gets
// no such time, since its partitions have another owner already: their
// handlers are cancelled at once and their deferred messages are not
// committed.
//
// A partition whose committed offset is outside its log (the broker lost
// records, or deleted them before they were read) is read again from its
// oldest record, never from its end, which would skip messages; the
// Consumer logs this as an ALERT with the topic, partition, committed and
// new offsets and calls Config.OnOffsetReset. So is a partition for which
// the group has no committed offset at all when Config.History records
// that the same group had one before (the group's offsets expired, the
// group was deleted): its whole retained log is delivered again, which
// at the group's first start, with nothing recorded, is silent. When
// Config.History names another group (kafka.groupId was changed) or
// another Kafka cluster (a new installation reusing the store), the same
// reading from the oldest record is a WARN naming both, with no
// OnOffsetReset call. Messages
// delivered again this way are answered from the store while it keeps
// their outcomes, so
// CheckRetention warns at start when the requests topic may keep records
// longer than the store keeps outcomes.
//
// A Consumer whose brokers present a certificate it does not trust (not
// signed by the CA of TLSConfig.CAFile, expired, or not naming the
// broker's address), refuse its client certificate (none, expired, or
// from a CA they do not trust) or refuse its SASL credentials keeps
// retrying, since an operator may fix the brokers or the files, but logs
// the first refusal and then one a minute as an ALERT saying what failed
// (the certificate and the CA file, the client certificate's file, or
// the SASL mechanism and user, never the password) and the fix; Refused
// gives the reason (for /readyz) and Config.OnRefused counts every
// attempt. The errors of NewProducer and EnsureTopics say the same when
// the brokers refuse them, and name a SASL mechanism the brokers do not
// offer (a cause sarama drops, found by a connection of their own).
//
// A handler's failed message is called again with backoff, and each retry
// is a WARN; so that an outage every message fails on (the store refusing
// writes) does not log one per retry of every message, a partition logs
// the first retry of a cause, then at most one a minute with how many it
// did not log (retriesSinceLastLog). Config.RetryCause names causes;
// without it, a cause is the error's text.
//
// Clients made from Configs that share Credentials read the SASL user and
// password and the TLS material afresh for every new connection and SASL
// authentication, so Credentials.Rotate changes them for all clients at
// once, without cutting the connections already authenticated. sarama
// keeps PLAIN credentials in its configuration for a client's life, so
// with PLAIN the connection writes the ones in force into each
// SaslAuthenticate request (plainConn).
//
// Lags tells, for each partition claimed now, how many of its records
// the consumer has not read yet (its high-water mark as of the last
// fetch or of the consumer's refresh every 30s, whichever is later, less
// the next offset to read), with no broker request and no allocation per
// message; it may read low by the records of the last 30s while nothing
// is fetched from a partition. A partition whose high-water mark nothing
// confirmed for 90s (no records read, its leader not answering the
// refresh) has no lag in Lags, which is unknown then, rather than the
// last value frozen. The refresh asks each leader once for all its
// partitions, each leader in a goroutine of its own, so a leader that
// does not answer holds up no other.
//
// Every error of a Producer's Send is a *SendError, which marks it as a
// write to Kafka that failed; Permanent tells the few that last until
// someone acts (a record or topic refused, credentials, certificates or
// rights refused, a client setting the brokers do not accept) from the
// rest, which pass.
package bus
