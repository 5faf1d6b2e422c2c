#!/usr/bin/env bash
# Install the PostgreSQL server binaries (initdb, postgres) that medgate's
# tests run: test/testenv starts its own throwaway server from
# /usr/lib/postgresql/<version>/bin on a free loopback port, so nothing else
# is configured here.
#
# Idempotent: when /usr/lib/postgresql/*/bin holds initdb and postgres,
# nothing is done. Otherwise the Debian/Ubuntu package "postgresql" is
# installed with apt-get (as root, or through sudo). The package creates a
# "main" cluster and may start it; this script stops any cluster that the
# install started and keeps the service from starting at boot, since the
# tests do not use it.
#
# Usage: deploy/testenv/postgres.sh
set -euo pipefail

log() { printf 'testenv-postgres: %s\n' "$*" >&2; }
# shellcheck source=deploy/testenv/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

# server_bin prints the newest bin directory holding initdb and postgres.
server_bin() {
	local d found
	# The highest version: sort numerically (the glob would put 9 after 16).
	found="$(for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; fi
	done | sort -t/ -k5,5n | tail -n1)"
	[ -n "$found" ] && printf '%s\n' "$found"
}

# online_clusters prints "<version>/<name>" for each running cluster.
online_clusters() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 0
	pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" { print $1 "/" $2 }'
}

if bin="$(server_bin)"; then
	log "PostgreSQL server binaries already installed in $bin; nothing to do"
	exit 0
fi

before="$(online_clusters)"
apt_install "or point the tests at a server with MEDGATE_TEST_PG_DSN=postgres://user@host:port/postgres" postgresql

# Stop the clusters the install started; leave alone any that ran before.
for cluster in $(online_clusters); do
	if ! grep -qxF "$cluster" <<<"$before"; then
		log "stopping cluster $cluster started by the install (tests run their own server)"
		"${SUDO[@]}" pg_ctlcluster "${cluster%%/*}" "${cluster#*/}" stop
	fi
done
# Under systemd, keep the freshly installed service from starting at boot.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	"${SUDO[@]}" systemctl disable --now postgresql >/dev/null 2>&1 || true
fi

if ! bin="$(server_bin)"; then
	log "the postgresql package is installed but no /usr/lib/postgresql/*/bin/{initdb,postgres} was found"
	exit 1
fi
log "PostgreSQL server binaries installed in $bin"
