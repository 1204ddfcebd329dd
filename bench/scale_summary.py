#!/usr/bin/env python3
"""The table of `make bench-scale`: one row per engine and N from the
operators-mode reports, and the 1M-against-1k ratios of the reads."""
import json, sys

runs = {}
for path in sys.argv[1:]:
    r = json.load(open(path))
    res = r["result"]
    runs[(res["engine"], res["users"])] = (r, res)

def row(r, res):
    sc, l, sz = res.get("scale") or {}, res.get("list") or {}, res.get("size") or {}
    imp, exp = res.get("import") or {}, res.get("export") or {}
    gid, find = sc.get("get_by_id") or {}, l.get("find") or {}
    cid, cfind = sc.get("get_by_id_concurrent") or {}, l.get("concurrent_finds") or {}
    pages = [(sc.get(k) or {}).get("p99_ms", 0) for k in ("first_page", "middle_page", "last_page")]
    return {
        "import/s": res.get("import_rate", 0), "import RSS MiB": imp.get("peak_rss_bytes", 0) / 2**20,
        "id p50": gid.get("p50_ms", 0), "id p99": gid.get("p99_ms", 0), "id req/s": cid.get("rps", 0),
        "email p50": find.get("p50_ms", 0), "email p99": find.get("p99_ms", 0), "email req/s": cfind.get("rps", 0),
        "page p99 first/mid/last": "/".join("%.2f" % p for p in pages),
        "login p50": (sc.get("login") or {}).get("p50_ms", 0),
        "export s": exp.get("wall_s", 0), "export RSS MiB": exp.get("peak_rss_bytes", 0) / 2**20,
        "B/user": sz.get("bytes_per_user", 0), "serve RSS MiB": res.get("serve_peak_rss_bytes", 0) / 2**20,
        "load": r.get("load_before", ""),
    }

cols = None
for key in sorted(runs):
    d = row(*runs[key])
    if cols is None:
        cols = list(d)
        print("| engine | users | " + " | ".join(cols) + " |")
        print("|---" * (len(cols) + 2) + "|")
    print("| %s | %d | " % key + " | ".join(("%.2f" % v if isinstance(v, float) else str(v)) for v in d.values()) + " |")
for engine in ("sqlite", "postgres"):
    small, big = runs.get((engine, 1000)), runs.get((engine, 1000000))
    if not small or not big:
        continue
    a, b = row(*small), row(*big)
    for k in ("id p50", "id p99", "email p50", "email p99"):
        if a[k]:
            print("%s: %s at 1M is %.2f× its 1k figure (target ≤ 1.25×)" % (engine, k, b[k] / a[k]))
    for k in ("id req/s", "email req/s"):
        if b[k]:
            print("%s: %s at 1k is %.2f× its 1M figure (target ≤ 1.25×)" % (engine, k, a[k] / b[k]))
