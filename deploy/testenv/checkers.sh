#!/usr/bin/env bash
# Install the independent tools the tests check medgate's output with, the
# same tools that check it from outside: zbarimg (zbar-tools) reads the
# printed e-card QR codes, LibreOffice Calc (libreoffice-calc-nogui) opens
# the trace-code Excel exports, kcat plays the integration platform on
# Kafka, and OpenSSL (3.x, with SM2/SM3/SM4) opens and makes the
# work-injury envelopes (plugins/smenvelope/openssl_test.go), promtool
# (Debian's prometheus package) checks and unit-tests the alert rules
# (deploy/prometheus), and the sqlite3 shell takes the online backups
# README "Backup and restore" gives (host/internal/store/backup_test.go),
# and PgBouncer pools the store's PostgreSQL sessions in transaction mode
# (host/internal/store/pgbouncer_postgres_test.go). None of them shares
# code with medgate.
#
# Idempotent: when zbarimg, soffice, kcat, openssl, promtool, sqlite3 and
# pgbouncer are present, nothing is done.
# Otherwise the missing Debian/Ubuntu packages are installed with apt-get
# (as root, or through sudo).
#
# Usage: deploy/testenv/checkers.sh
set -euo pipefail

log() { printf 'testenv-checkers: %s\n' "$*" >&2; }
# shellcheck source=deploy/testenv/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

missing=()
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-calc-nogui)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)

if [ ${#missing[@]} -eq 0 ]; then
	log "zbarimg, soffice, kcat, openssl, promtool, sqlite3 and pgbouncer are installed; nothing to do"
	exit 0
fi

apt_install "" "${missing[@]}"
# The prometheus package also installs a Prometheus server that starts at
# boot; only its promtool is wanted here.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	"${SUDO[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
# So does the pgbouncer package: the tests run their own.
if [[ " ${missing[*]} " == *" pgbouncer "* ]] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	"${SUDO[@]}" systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi
