#!/usr/bin/env bash
# Fetch the jars of a real Apache Kafka broker (KRaft) from Maven Central for
# medgate's integration tests, into <repo>/.cache/kafka/jars (or the directory
# in $MEDGATE_KAFKA_JARS, the same variable test/testenv/kafka.go reads).
#
# Idempotent: when the jar directory was filled from the current pom.xml
# (its sha256 is recorded in .pom.sha256) nothing is downloaded. Java 17+ and
# Maven are installed with apt-get when missing (Debian/Ubuntu, as root).
#
# Usage: deploy/kafka/fetch.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
pom="$here/pom.xml"
jars="${MEDGATE_KAFKA_JARS:-$repo/.cache/kafka/jars}"

log() { printf 'fetch-kafka: %s\n' "$*" >&2; }

java_major() {
	# "openjdk version "17.0.15" ..." -> 17 ; "1.8.0_x" -> 1
	java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1
}

ensure_tools() {
	local need=()
	if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
		need+=(openjdk-17-jre-headless)
	fi
	if ! command -v mvn >/dev/null 2>&1; then
		need+=(maven)
	fi
	if [ "${#need[@]}" -eq 0 ]; then
		return
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		log "missing ${need[*]} and no apt-get: install Java 17+ and Maven, then rerun"
		exit 1
	fi
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	log "installing ${need[*]} with apt-get"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}

want="$(sha256sum "$pom" | cut -d' ' -f1)"
if [ -f "$jars/.pom.sha256" ] && [ "$(cat "$jars/.pom.sha256")" = "$want" ] &&
	compgen -G "$jars/kafka_2.13-*.jar" >/dev/null; then
	ensure_tools
	log "jars up to date in $jars"
	exit 0
fi

ensure_tools

# Copy into a fresh directory beside the target, then swap it in, so an
# interrupted download never leaves a half-filled jar directory behind.
parent="$(dirname "$jars")"
mkdir -p "$parent"
tmp="$(mktemp -d "$parent/.jars.XXXXXX")"
mvnlog="$(mktemp "$parent/.mvn.XXXXXX.log")"
trap 'rm -rf "$tmp" "$mvnlog"' EXIT

log "resolving $(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:kafka \1:p' "$pom") from Maven Central"
if ! mvn -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
	tail -n 40 "$mvnlog" >&2
	log "maven failed; see the output above (is Maven Central reachable?)"
	exit 1
fi
if ! compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null; then
	log "maven finished but no kafka_2.13 jar was copied into $tmp"
	exit 1
fi
printf '%s\n' "$want" >"$tmp/.pom.sha256"

rm -rf "$jars"
mv "$tmp" "$jars"
rm -f "$mvnlog"
trap - EXIT
log "$(find "$jars" -name '*.jar' | wc -l) jars in $jars"
