#!/usr/bin/env bash
# Runs every native fuzz target of the module for FUZZTIME (default 60s)
# each; `make fuzz` calls it. A target fails when the fuzzer writes a
# failing input to testdata/fuzz/<target>/ (add it to the commit: it then
# runs in `make test`) or when go test fails for any other reason, except
# one: Go's fuzz coordinator can end a -fuzztime run with a bare "context
# deadline exceeded" and no failing input (golang/go#75804, fixed in Go
# 1.27). Such a run is listed as a toolchain flake, not a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-60s}
failed="" flaked=""
for d in $(grep -rl --include='*_test.go' '^func Fuzz' host plugins schemas transforms test | xargs -n1 dirname | sort -u); do
	for f in $(grep -h '^func Fuzz' "$d"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
		echo "== fuzz ./$d $f for $FUZZTIME"
		corpus="$d/testdata/fuzz/$f"
		before=$(ls "$corpus" 2>/dev/null | sort)
		out=$(mktemp)
		$GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "./$d" 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
		after=$(ls "$corpus" 2>/dev/null | sort)
		if [ "$rc" -ne 0 ]; then
			if [ "$before" = "$after" ] && tail -n 6 "$out" | grep -q '^    context deadline exceeded$'; then
				flaked="$flaked ./$d:$f"
			else
				failed="$failed ./$d:$f"
			fi
		fi
		rm -f "$out"
	done
done
if [ -n "$flaked" ]; then
	echo "ended by Go's fuzz coordinator without a failing input (golang/go#75804; not a failure):$flaked"
fi
if [ -n "$failed" ]; then
	echo "fuzz targets that failed (new failing inputs are in their testdata/fuzz):$failed"
	exit 1
fi
