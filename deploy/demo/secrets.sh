#!/usr/bin/env bash
# Creates the demo site's secrets in data/secrets (mode 600) the first time
# `make run` runs. They are random, local to this machine and never
# committed; production secrets come from the hospital's secret store.
set -euo pipefail
dir="${1:-data/secrets}"
mkdir -p "$dir"
chmod 700 "$dir"
make_secret() { # name generator
  local f="$dir/$1"
  if [[ ! -s "$f" ]]; then
    (umask 077; eval "$2" > "$f")
    echo "created demo secret $f"
  fi
}
make_secret ecard-identity 'openssl rand -hex 32'
make_secret ecard-qrkeys 'echo "A:$(openssl rand -hex 16)"'
make_secret store-key 'openssl rand -hex 32'                 # store.encryption: personal data at rest
