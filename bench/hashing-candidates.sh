#!/bin/sh
# The hashing candidates side by side (BENCHMARKS.md, "Hashing on every
# CPU"): each round runs the hash-bound scenarios and the login flood once
# per candidate, in turn (A/B/C/D, A/B/C/D, ...), so a drift of the machine
# hits every candidate; then hashing_summary.py prints one table row per
# run, with the load average each run began at.
#
#   ./hashing-candidates.sh [rounds] [extra harness flags]
#
# Candidates: Usher's setting hash-priority (low, the default; idle;
# normal) with one worker per CPU, and the previous default (normal, one
# worker per CPU but one).
set -eu
rounds=${1:-2}
[ $# -gt 0 ] && shift
out=${OUT:-hashing-runs}
mkdir -p "$out"
go build -o "$out/bench" .
i=1
while [ "$i" -le "$rounds" ]; do
	for cand in low idle normal old; do
		case $cand in
		old) env="USHER_HASH_PRIORITY=normal USHER_HASH_WORKERS=$(($(nproc) > 1 ? $(nproc) - 1 : 1))" ;;
		*) env="USHER_HASH_PRIORITY=$cand" ;;
		esac
		echo "== round $i, candidate $cand ($env), load $(cut -d' ' -f1 /proc/loadavg)"
		"$out/bench" -scenarios login,checkpw -conns 8,16,32 -duration 8s -flood 20s -users 200 \
			-usher-env "$env" -out "$out/$cand-$i.json" "$@" >"$out/$cand-$i.txt" 2>&1 || true
	done
	i=$((i + 1))
done
python3 hashing_summary.py "$out"/*.json
