#!/usr/bin/env bash
# Creates medgate's topics on an existing Kafka cluster with the Kafka CLI.
# Usage: BOOTSTRAP=kafka-1:9093 PARTITIONS=12 REPLICATION=3 [MIN_INSYNC=2] [CONFIG=client.properties] [REPLY_TOPICS="his.cashier.replies his.ward.replies"] deploy/kafka/create-topics.sh
# REPLY_TOPICS lists the topics of kafka.topics.replyTo, created like the replies topic.
# MIN_INSYNC (min.insync.replicas) defaults to 2, or 1 with REPLICATION=1: medgate
# writes with acks=all, which a topic asking for more in-sync replicas than it has refuses.
# Partitions bound parallelism: messages of one key (patient/visit) stay in one partition.
set -euo pipefail
: "${BOOTSTRAP:?set BOOTSTRAP=host:port}"
PARTITIONS="${PARTITIONS:-12}"
REPLICATION="${REPLICATION:-3}"
MIN_INSYNC="${MIN_INSYNC:-$(( REPLICATION < 2 ? REPLICATION : 2 ))}"
if (( MIN_INSYNC < 1 || MIN_INSYNC > REPLICATION )); then
  echo "MIN_INSYNC=$MIN_INSYNC: give 1 to REPLICATION ($REPLICATION); with more, every acks=all write fails" >&2
  exit 2
fi
PREFIX="${PREFIX:-medgate}"
cmd=(kafka-topics.sh --bootstrap-server "$BOOTSTRAP")
[[ -n "${CONFIG:-}" ]] && cmd+=(--command-config "$CONFIG")
for t in requests replies events; do
  "${cmd[@]}" --create --if-not-exists --topic "$PREFIX.$t" --partitions "$PARTITIONS" \
    --replication-factor "$REPLICATION" --config min.insync.replicas=$MIN_INSYNC --config retention.ms=1209600000
done
for t in ${REPLY_TOPICS:-}; do
  "${cmd[@]}" --create --if-not-exists --topic "$t" --partitions "$PARTITIONS" \
    --replication-factor "$REPLICATION" --config min.insync.replicas=$MIN_INSYNC --config retention.ms=1209600000
done
# The dead-letter topic keeps records longer: people replay from it.
"${cmd[@]}" --create --if-not-exists --topic "$PREFIX.dlq" --partitions "$PARTITIONS" \
  --replication-factor "$REPLICATION" --config min.insync.replicas=$MIN_INSYNC --config retention.ms=7776000000
