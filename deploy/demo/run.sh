#!/usr/bin/env bash
# `make run`: start the simulators of the external systems in the
# background, then medgate in the foreground; Ctrl-C stops both.
# MEDGATE_SIM_WAIT: seconds to wait for the simulators (default 30).
set -euo pipefail
bin="$1"; config="$2"
mkdir -p data/sim
"$bin/medgate-sim" -dir data/sim > data/sim/medgate-sim.log 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
# Wait until every simulator listens and has written the keys and tokens
# the demo configuration reads: medgate-sim prints each address, then
# "simulators ready".
wait_s="${MEDGATE_SIM_WAIT:-30}"
deadline=$((SECONDS + wait_s))
until grep -q "^simulators ready\|^no simulators" data/sim/medgate-sim.log 2>/dev/null; do
  if ! kill -0 $sim 2>/dev/null; then
    sed 's/^/  /' data/sim/medgate-sim.log
    echo "the simulators ($bin/medgate-sim) stopped; their log, above, is in data/sim/medgate-sim.log (a port of 18081-18083 in use?)" >&2
    exit 1
  fi
  if (( SECONDS >= deadline )); then
    sed 's/^/  /' data/sim/medgate-sim.log
    echo "the simulators are not ready after ${wait_s}s (their log above, in data/sim/medgate-sim.log); on a slow machine wait longer: MEDGATE_SIM_WAIT=120 make run" >&2
    exit 1
  fi
  sleep 0.1
done
grep '^simulator' data/sim/medgate-sim.log | sed 's/^/  /'   # the rest of their log stays in the file
"$bin/medgate" run -config "$config"
