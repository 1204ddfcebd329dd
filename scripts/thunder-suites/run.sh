#!/usr/bin/env bash
# Runs Thunder's own end-to-end suites (its scripts/tests, k6 scripts) against
# Usher, each against a fresh `usher serve --thunder-config <suite>/config.yaml`,
# with this directory's k6-compatible runner (k6run.mjs; k6 itself is not
# used). Prints each suite's checks and a table at the end.
#
#   scripts/thunder-suites/run.sh [--keep-going] [--strict] [--usher BINARY] THUNDER_CHECKOUT_DIR [suite...]
#
# Without --usher, usher is built from this repository once.
# --keep-going lets every describe() block run even after one failed (k6
# stops a suite's `describe() && describe()` chain at the first failure), to
# list every failing check at once; later blocks may then fail only because
# an earlier one did.
#
# The checks deviations.json lists (Usher's documented deviations from
# Thunder) are reported as known deviations: they neither end their block
# nor fail the suite. --strict counts them as failures, as k6 would.
#
# The suites call Thunder's ports 127.0.0.1:8080 (API) and :8081 (admin), as
# their config.yaml files set; Usher moves its own public and backend
# listeners to 127.0.0.1:8180 and :8181 by itself when a Thunder file takes
# their default ports, so Usher gets nothing but the file and
# --password-allow-common. Logs and data of the run stay in the work
# directory printed at the start.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

keep_going=()
usher_bin=
deviations=(--deviations "$here/deviations.json")
while [[ $# -gt 0 ]]; do
	case $1 in
	--keep-going) keep_going=(--keep-going) ;;
	--strict) deviations=() ;;
	--usher) usher_bin=${2:?--usher needs a path}; shift ;;
	*) break ;;
	esac
	shift
done
if [[ $# -lt 1 ]]; then
	echo "usage: $0 [--keep-going] [--strict] [--usher BINARY] THUNDER_CHECKOUT_DIR [suite...]" >&2
	exit 2
fi
tests=$1/scripts/tests
shift
if [[ ! -f $tests/common/common.js ]]; then
	echo "run.sh: $tests/common/common.js not found: give the root of a Thunder checkout" >&2
	exit 2
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
	echo "run.sh: Node.js 20 or later is needed" >&2
	exit 2
fi

if [[ $# -gt 0 ]]; then
	suites=("$@")
else
	suites=()
	for d in "$tests"/*/; do
		d=${d%/}
		d=${d##*/}
		[[ $d == common ]] || suites+=("$d")
	done
fi

# Settings from the caller's environment must not change the runs.
for v in $(compgen -e | grep '^USHER_' || true); do unset "$v"; done

work=$(mktemp -d "${TMPDIR:-/tmp}/usher-thunder-suites.XXXXXX")
echo "work directory (logs, data): $work"
if [[ -n $usher_bin ]]; then
	cp "$usher_bin" "$work/usher"
else
	echo "building usher..."
	(cd "$repo" && CGO_ENABLED=0 go build -o "$work/usher" ./cmd/usher)   # static, as make build
fi

usher_pid=
stop_usher() {
	if [[ -n $usher_pid ]] && kill -0 "$usher_pid" 2>/dev/null; then
		kill -TERM "$usher_pid"
		wait "$usher_pid" 2>/dev/null || true
	fi
	usher_pid=
}
trap stop_usher EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready waits for Usher's "ready" log event and an open Thunder port.
wait_ready() {
	local log=$1 i
	for ((i = 0; i < 300; i++)); do
		if ! kill -0 "$usher_pid" 2>/dev/null; then
			return 1
		fi
		if grep -q '"event":"ready"' "$log" && port_open 8080; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

results=()
for suite in "${suites[@]}"; do
	dir=$tests/$suite
	out=$work/$suite
	mkdir -p "$out"
	echo
	echo "════ $suite"
	if [[ ! -f $dir/test.js ]]; then
		# typical-load is an Artillery script; anything else is a wrong name.
		if [[ -f $dir/tests.yml ]]; then
			msg="not a k6 script: an Artillery load test (tests.yml), not run by this driver"
			key=skipped
		else
			msg="no suite: $dir/test.js not found"
			key=error
		fi
		echo "$msg"
		printf '{"%s": %s}\n' "$key" "$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$msg")" >"$out/summary.json"
		results+=("$suite")
		continue
	fi
	for p in 8080 8081; do
		if port_open "$p"; then
			echo "run.sh: 127.0.0.1:$p is already in use; the suites need it free" >&2
			exit 1
		fi
	done
	# Files a config names under /home/config/ (Thunder's Docker mount, e.g.
	# the oauth suite's RSA public key) are copied there from the suite.
	for f in $(grep -o '/home/config/[A-Za-z0-9._-]*' "$dir/config.yaml" | sort -u || true); do
		if [[ -f $dir/${f##*/} ]]; then
			mkdir -p /home/config
			cp "$dir/${f##*/}" "$f"
			echo "copied $suite/${f##*/} to $f (its config.yaml names that path)"
		fi
	done
	# The environment Thunder's container gets (docker-compose.yml), for the
	# ${NAME} references of config.yaml.
	compose_env=()
	if [[ -f $dir/docker-compose.yml ]]; then
		mapfile -t compose_env < <(node "$here/compose-env.mjs" "$dir/docker-compose.yml")
	fi
	if [[ ${#compose_env[@]} -gt 0 ]]; then
		names=("${compose_env[@]%%=*}")
		echo "environment from docker-compose.yml: ${names[*]}"
	fi
	mkdir -m 700 "$out/data"
	env "${compose_env[@]}" "$work/usher" serve --thunder-config "$dir/config.yaml" --password-allow-common \
		--data "$out/data" \
		>"$out/usher.log" 2>&1 &
	usher_pid=$!
	if ! wait_ready "$out/usher.log"; then
		echo "usher did not become ready; the end of its log:"
		tail -n 5 "$out/usher.log" | sed 's/^/  /'
		printf '{"usherFailed": %s}\n' "$(tail -n 3 "$out/usher.log" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(s.trim())))')" >"$out/summary.json"
		stop_usher
		results+=("$suite")
		continue
	fi
	node "$here/k6run.mjs" "${keep_going[@]}" "${deviations[@]}" --suite "$suite" --summary-json "$out/summary.json" "$dir/test.js" || true
	stop_usher
	results+=("$suite")
done

echo
node "$here/summarize.mjs" "$work" "${results[@]}"
