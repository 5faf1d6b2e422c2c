// Package bench measures medgate end to end as a deployment sees it: the
// real medgate binary and plugin binaries as processes, a real Apache Kafka
// broker started by test/testenv, the work-injury simulator with full SM2/SM4
// crypto, and the integration platform played by segmentio/kafka-go.
//
// `make bench` runs BenchmarkMedgate and prints one table, also written to
// bin/bench.txt (or $MEDGATE_BENCH_OUT): Kafka pass-through beside a plain
// client's copy through the same broker, GYD051 over HTTP beside the
// crypto-only limit, GYU102 with 500 lines per call through Kafka, the
// latency the host adds at a fixed 200 requests/s, and the resident memory
// of the host and of each plugin, idle and under load.
package bench
