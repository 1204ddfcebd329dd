#!/usr/bin/env python3
"""One row per harness report of hashing-candidates.sh: the candidate, the
load average at the start, each hash-bound ratio to the all-CPU argon2id
yardstick, the flood's GET p99 against idle and against the busy-CPU
yardstick, and the flood's peak RSS."""
import json, os, sys

rows = []
for path in sys.argv[1:]:
    r = json.load(open(path))
    name = os.path.basename(path)[:-5]
    cells = []
    for lvl in r.get("levels", []):
        for run in lvl["runs"]:
            if run["kind"] != "scenario":
                continue
            for ra in run.get("ratios") or []:
                errs = sum((run.get("errors") or {}).values())
                cells.append("%s@%d %.2f×%s, %.0f/s, cpu %.0f µs/req (drift %.0f%%, load %.1f%s)" % (run["name"], run["conns"], ra["ratio"],
                             ra["yardstick"], run["rps"], run.get("server_cpu_us_per_req", 0),
                             100 * ra["yardstick_drift"], run.get("load1", 0), ", %d errors" % errs if errs else ""))
    f = r.get("flood") or {}
    fl = "n/a"
    if f.get("flood_get"):
        fl = "GET p99 idle %.2f, busy CPU %.2f, flood %.2f ms: %.2f× idle, %.2f× busy; peak RSS %.0f MiB; refusal p99 %.1f ms" % (
            f["idle_get"]["p99_ms"], (f.get("busy_get") or {}).get("p99_ms", 0), f["flood_get"]["p99_ms"],
            f.get("get_p99_ratio", 0), f.get("flood_vs_busy", 0), f.get("peak_rss_bytes", 0) / 2**20, f.get("refusal_p99_ms", 0))
    print("%s  (usher env: %s)" % (name, " ".join(r.get("usher_env") or [])))
    for c in cells:
        print("   ", c)
    print("    flood:", fl)
