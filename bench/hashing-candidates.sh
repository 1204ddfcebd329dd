#!/bin/sh
# The hashing candidates side by side (BENCHMARKS.md, "Hashing on every
# CPU"): each round runs the hash-bound scenarios and the login flood once
# per candidate, in turn (A/B/C/D, A/B/C/D, ...), so a drift of the machine
# hits every candidate; then hashing_summary.py prints one table row per
# run, with the load average each run began at.
#
#   ./hashing-candidates.sh [rounds] [extra harness flags]
#
# Candidates: Usher's setting hash-priority (low; idle, the default;
# normal) with one worker per CPU, and the previous default (normal, one
# worker per CPU but one).
set -eu
rounds=${1:-2}
[ $# -gt 0 ] && shift
out=${OUT:-hashing-runs}
mkdir -p "$out"
go build -o "$out/bench" .

# idle_share prints the share of CPU time the machine left idle over 3 s.
idle_share() {
	a=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8, $5}' /proc/stat)
	sleep 3
	b=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8, $5}' /proc/stat)
	echo "$a $b" | awk '{printf "%.0f", 100 * ($4 - $2) / ($3 - $1)}'
}
# On a shared machine, wait (at most QUIET_WAIT seconds) for the others to
# leave the CPUs at least QUIET_IDLE % idle before each run.
quiet() {
	waited=0
	while [ "$waited" -lt "${QUIET_WAIT:-120}" ]; do
		s=$(idle_share)
		[ "$s" -ge "${QUIET_IDLE:-80}" ] && break
		waited=$((waited + 3))
	done
	echo "   (idle ${s:-?} % after ${waited} s of waiting)"
}
i=1
while [ "$i" -le "$rounds" ]; do
	for cand in low idle normal old; do
		case $cand in
		old) env="USHER_HASH_PRIORITY=normal USHER_HASH_WORKERS=$(($(nproc) > 1 ? $(nproc) - 1 : 1))" ;;
		*) env="USHER_HASH_PRIORITY=$cand" ;;
		esac
		quiet
		echo "== round $i, candidate $cand ($env), load $(cut -d' ' -f1 /proc/loadavg)"
		"$out/bench" -scenarios login,checkpw -conns 8,16,32 -duration 8s -flood 20s -users 200 \
			-usher-env "$env" -out "$out/$cand-$i.json" "$@" >"$out/$cand-$i.txt" 2>&1 || true
	done
	i=$((i + 1))
done
python3 hashing_summary.py "$out"/*.json
