#!/usr/bin/env bash
# `make run`: start the simulators of the external systems in the
# background, then medgate in the foreground; Ctrl-C stops both.
set -euo pipefail
bin="$1"; config="$2"
mkdir -p data/sim
"$bin/medgate-sim" -dir data/sim > data/sim/medgate-sim.log 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
# Wait until the simulators listen (they print their addresses first).
for _ in $(seq 1 100); do
  grep -q "simulator\|no simulators" data/sim/medgate-sim.log 2>/dev/null && break
  kill -0 $sim 2>/dev/null || { cat data/sim/medgate-sim.log; exit 1; }
  sleep 0.1
done
sed 's/^/  /' data/sim/medgate-sim.log
"$bin/medgate" run -config "$config"
