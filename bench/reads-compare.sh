#!/bin/sh
# Reads with the request log on (as shipped) and off, in turn, and with
# BEFORE=<git ref> also the tree at that ref with its log on (BENCHMARKS.md,
# "Reads with the shipped defaults"); then one summary row per run.
#
#   ./reads-compare.sh [rounds] [extra harness flags]
set -eu
rounds=${1:-2}
[ $# -gt 0 ] && shift
out=${OUT:-reads-runs}
mkdir -p "$out"
go build -o "$out/bench" .
root=$(cd .. && pwd)
if [ -n "${BEFORE:-}" ]; then
	rm -rf "$out/before-tree" && mkdir -p "$out/before-tree"
	git -C "$root" archive "$BEFORE" | tar -x -C "$out/before-tree"
fi
flags="-scenarios backend-get,me -flood 0 -users 200"
i=1
while [ "$i" -le "$rounds" ]; do
	for cand in ${BEFORE:+before} on off; do
		case $cand in
		before) extra="-repo $out/before-tree" ;;
		on) extra="" ;;
		off) extra="-no-log-requests" ;;
		esac
		echo "== round $i, $cand, load $(cut -d' ' -f1 /proc/loadavg)"
		# shellcheck disable=SC2086
		"$out/bench" $flags $extra -out "$out/$cand-$i.json" "$@" >"$out/$cand-$i.txt" 2>&1 || true
	done
	i=$((i + 1))
done
python3 hashing_summary.py "$out"/*.json
