#!/usr/bin/env bash
# `make run`: the demo trusts the plugins `make build` has just built. It
# writes their checksums to a file under data/ (not beside the plugins, so
# replacing a plugin does not replace its checksum), which the demo
# configuration names as pluginChecksums. A production configuration pins
# each plugin's sha256 instead (`make build` prints them).
# Usage: checksums.sh <plugin dir> <output file> <plugin name>...
set -euo pipefail
dir="$1"; out="$2"; shift 2
mkdir -p "$(dirname "$out")"
chmod 700 "$(dirname "$out")"
tmp="$(cd "$(dirname "$out")" && pwd)/$(basename "$out").tmp"
(umask 077; cd "$dir" && sha256sum -- "$@" > "$tmp")
mv "$tmp" "$out"
echo "demo plugin checksums written to $out"
