#!/usr/bin/env python3
"""Helpers of scripts/bench.sh: parse wrk output, print the result tables, write the JSON.

    report.py parse-wrk FILE...       one wrk run's numbers as JSON (for a quick look; several
                                      files: the runs of the instances, merged)
    report.py line FILE...            one wrk run (or the merged runs of the instances) in one
                                      line (progress output)
    report.py json-path PATH          read JSON on stdin, print the value at PATH (a.b.0.c)
    report.py report RUN_DIR OUT...   print the tables of a run, write its JSON to each OUT

A run directory (made by bench.sh) holds `run.tsv` (key, value) and one folder per backend
with `meta.tsv` (key, value) and `endpoints.tsv` (name, method, path, then one wrk output file
per server instance: with BENCH_INSTANCES > 1 one wrk drove each instance at the same time).
A scale run (BENCH_SCALE=1) adds `scale_paths.tsv` (key, path, target seconds, HTTP codes,
bytes, times in seconds, the server's VmHWM in MiB after the path; codes and times
comma-separated per repetition) and `scale_meta.tsv`
(the scale-paths server's VmRSS / VmHWM), shown as the "scale paths" table.
"""

import json
import re
import sys
from pathlib import Path

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SI = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}


def _duration_ms(text):
    """`812.00us`, `1.20ms`, `2.00s`, `1.00m` → milliseconds."""
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unrecognised wrk duration {text!r}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def parse_wrk(text):
    """The numbers of one wrk run (`wrk --latency`), from its text output."""
    out = {
        "requests": None,
        "duration_s": None,
        "rps": None,
        "p50_ms": None,
        "p75_ms": None,
        "p90_ms": None,
        "p99_ms": None,
        "non2xx": 0,
        "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
        "statuses": {},
        "sent": None,
    }
    in_distribution = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Latency Distribution"):
            in_distribution = True
            continue
        if in_distribution:
            m = re.fullmatch(r"(\d+)%\s+(\S+)", line)
            if m:
                key = f"p{m.group(1)}_ms"
                if key in out:
                    out[key] = round(_duration_ms(m.group(2)), 3)
                continue
            in_distribution = False
        m = re.fullmatch(r"(\d+) requests in ([0-9.]+)(us|ms|s|m|h),.*", line)
        if m:
            out["requests"] = int(m.group(1))
            out["duration_s"] = round(_duration_ms(m.group(2) + m.group(3)) / 1000, 3)
            continue
        m = re.fullmatch(r"Requests/sec:\s+([0-9.]+)([kMG]?)", line)
        if m:
            out["rps"] = round(float(m.group(1)) * _SI[m.group(2)], 2)
            continue
        m = re.fullmatch(r"Non-2xx or 3xx responses:\s+(\d+)", line)
        if m:
            out["non2xx"] = int(m.group(1))
            continue
        m = re.fullmatch(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line
        )
        if m:
            out["socket_errors"] = dict(
                zip(("connect", "read", "write", "timeout"), map(int, m.groups()))
            )
            continue
        m = re.fullmatch(r"BENCH_STATUS (\d+) (\d+)", line)
        if m:
            out["statuses"][m.group(1)] = int(m.group(2))
            continue
        m = re.fullmatch(r"BENCH_SENT (\d+)", line)
        if m:
            out["sent"] = int(m.group(1))
    missing = [k for k in ("requests", "rps", "p50_ms", "p99_ms") if out[k] is None]
    if missing:
        raise ValueError(f"wrk output lacks {', '.join(missing)}:\n{text}")
    out["socket_errors_total"] = sum(out["socket_errors"].values())
    return out


_PERCENTILES = ("p50_ms", "p75_ms", "p90_ms", "p99_ms")


def merge_runs(runs):
    """The wrk runs made at the same time against the instances of one backend, as one run.

    Counts (requests, non-2xx, socket errors, statuses, requests sent) and req/s are summed;
    the duration is the longest. Latency: wrk keeps each run's histogram to itself, and its
    text output gives only percentiles, which cannot be combined exactly. A percentile of the
    combined requests lies between the instances' values of that percentile (at x below the
    least of them every instance, so also the whole, has fewer than p % of its requests under
    x; at the largest, every one has at least p %), so each percentile reported is the worse
    (largest) of the instances' — an upper bound, never an average that would hide a slow
    instance. Each instance's own numbers are kept under "per_instance".
    """
    if len(runs) == 1:
        return runs[0]
    out = {
        "requests": sum(r["requests"] for r in runs),
        "duration_s": max(r["duration_s"] for r in runs),
        "rps": round(sum(r["rps"] for r in runs), 2),
    }
    for key in _PERCENTILES:
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = max(values) if values else None
    out["latency_merge"] = "max"
    out["non2xx"] = sum(r["non2xx"] for r in runs)
    out["socket_errors"] = {
        k: sum(r["socket_errors"][k] for r in runs) for k in runs[0]["socket_errors"]
    }
    statuses = {}
    for r in runs:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    out["statuses"] = statuses
    sent = [r["sent"] for r in runs]
    out["sent"] = None if None in sent else sum(sent)
    out["socket_errors_total"] = sum(out["socket_errors"].values())
    out["per_instance"] = runs
    return out


def parse_wrk_files(paths):
    return merge_runs([parse_wrk(Path(p).read_text(encoding="utf-8")) for p in paths])


def _read_tsv(path):
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(line.split("\t"))
    return rows


def _value(text):
    """TSV values are text; numbers become numbers, empty becomes null."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _fmt_rps(v):
    return f"{v:,.0f}".replace(",", " ")


def _fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


# The scale paths, in the order of the table: label and how the memory target reads.
SCALE_LABELS = {
    "export_csv": "export.csv, all leads",
    "stats_all": "stats, whole window",
    "stats_90d": "stats, 90 days",
    "sessions_filtered": "class sessions, 1 studio 1 week",
    "sessions_first_page": "class sessions, first page",
    "ics_all": "schedule.ics, all studios",
    "ics_location": "schedule.ics, 1 studio",
}
# Growth of the server's peak RSS (VmHWM) over the exports that still meets the target.
EXPORT_RSS_GROWTH_MIB = 50


def _median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def load_scale(folder):
    """The scale-paths phase of one backend (None when it did not run)."""
    tsv = folder / "scale_paths.tsv"
    if not tsv.is_file():
        return None
    meta_file = folder / "scale_meta.tsv"
    meta = {k: _value(v) for k, v in _read_tsv(meta_file)} if meta_file.is_file() else {}
    paths = []
    for key, path, target, codes, size, times, *rest in _read_tsv(tsv):
        secs = [float(t) for t in times.split(",") if t]
        codes = [c for c in codes.split(",") if c]
        ok = bool(codes) and all(c == "200" for c in codes)
        target_s = float(target)
        entry = {
            "key": key,
            "label": SCALE_LABELS.get(key, key),
            "path": path,
            "codes": codes,
            "bytes": int(size),
            "times_s": secs,
            "median_s": round(_median(secs), 4) if secs else None,
            "max_s": round(max(secs), 4) if secs else None,
            "target_s": target_s,
            "hwm_after_mib": _value(rest[0]) if rest else None,
            # Met: every repetition answered 200 within the target (the worst one counts).
            "met": ok and bool(secs) and max(secs) <= target_s,
        }
        if key == "export_csv" and "hwm_after_export_mib" in meta:
            growth = round(meta["hwm_after_export_mib"] - meta["hwm_before_export_mib"], 1)
            entry["rss_before_mib"] = meta["rss_before_export_mib"]
            entry["hwm_before_mib"] = meta["hwm_before_export_mib"]
            entry["hwm_after_mib"] = meta["hwm_after_export_mib"]
            entry["hwm_growth_mib"] = growth
            entry["rss_target_growth_mib"] = EXPORT_RSS_GROWTH_MIB
            entry["time_met"] = entry["met"]
            entry["rss_met"] = growth < EXPORT_RSS_GROWTH_MIB
            entry["met"] = entry["time_met"] and entry["rss_met"]
        paths.append(entry)
    return {"caches": "off", **meta, "paths": paths}


def _fmt_s(v):
    if v is None:
        return "-"
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


def _fmt_target(v):
    return f"< {v * 1000:.0f} ms" if v < 1 else f"< {v:g} s"


def print_scale(sc):
    print(
        f"  scale paths (one request at a time, {sc.get('reps')} repetitions, caches off,"
        f" studio {sc.get('location_id')}; peak RSS = the server's VmHWM after the path;"
        " met = every\n    repetition 200 and within the target):"
    )
    headers = ("path", "median", "max", "size", "peak RSS", "target", "met")
    rows = []
    for p in sc["paths"]:
        size = p["bytes"]
        size = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"
        target = _fmt_target(p["target_s"])
        if "rss_target_growth_mib" in p:
            target += f", RSS +{p['rss_target_growth_mib']} MiB"
        codes = set(p["codes"])
        met = "met" if p["met"] else "NOT MET"
        if codes != {"200"}:
            met += f" (HTTP {','.join(p['codes'])})"
        hwm = p.get("hwm_after_mib")
        hwm = "-" if hwm is None else f"{hwm:.1f} MiB"
        rows.append(
            (p["label"], _fmt_s(p["median_s"]), _fmt_s(p["max_s"]), size, hwm, target, met)
        )
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]
    for i, r in enumerate([headers] + rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:-1], widths[1:-1])]
        cells.append(r[-1])
        print("    " + "  ".join(cells))
        if i == 0:
            print("    " + "  ".join("-" * w for w in widths))
    exp = next((p for p in sc["paths"] if "hwm_growth_mib" in p), None)
    if exp:
        print(
            f"    export RSS: {exp['rss_before_mib']:.1f} MiB resident before, peak (VmHWM)"
            f" {exp['hwm_before_mib']:.1f} → {exp['hwm_after_mib']:.1f} MiB"
            f" (+{exp['hwm_growth_mib']:.1f}, target < +{exp['rss_target_growth_mib']} MiB:"
            f" {'met' if exp['rss_met'] else 'NOT MET'}); server peak at the end"
            f" {sc.get('hwm_end_mib')} MiB"
        )


def load_backend(folder):
    meta = {k: _value(v) for k, v in _read_tsv(folder / "meta.tsv")}
    endpoints = []
    for name, method, path, *wrk_files in _read_tsv(folder / "endpoints.tsv"):
        numbers = parse_wrk_files(wrk_files)
        endpoints.append({"name": name, "method": method, "path": path, **numbers})
    health = next((e["rps"] for e in endpoints if e["name"] == "/health"), None)
    for e in endpoints:
        e["ratio_to_health"] = round(e["rps"] / health, 3) if health else None
    result = {"backend": folder.name, **meta, "endpoints": endpoints}
    scale = load_scale(folder)
    if scale is not None:
        result["scale_paths"] = scale
    post = next((e for e in endpoints if e["method"] == "POST"), None)
    if post is not None and meta.get("leads_before") is not None:
        statuses = post["statuses"]
        ok = sum(n for code, n in statuses.items() if code.startswith("2"))
        if not statuses:  # the Lua script did not report: fall back to wrk's counts
            ok = post["requests"] - post["non2xx"]
        stored = meta["leads_after"] - meta["leads_before"]
        sent = post["sent"]
        match = ok == stored
        # wrk stops counting when the time is up; requests then in flight may still be stored
        # by the server, so `stored` may exceed the 2xx count by at most those (sent - answered).
        consistent = match or (sent is not None and ok <= stored <= sent - post["non2xx"])
        result["post_check"] = {
            "responses_2xx": ok,
            "responses_201": statuses.get("201"),
            "responses_200": statuses.get("200", 0),
            "statuses": statuses,
            "requests_sent": sent,
            "in_flight_at_stop": None if sent is None else sent - sum(statuses.values()),
            "leads_before": meta["leads_before"],
            "leads_after": meta["leads_after"],
            "leads_stored": stored,
            "match": match,
            "consistent": consistent,
        }
    return result


def _run_mode(run):
    """Which knobs were set, for the headers: instances, caches, rate limit, webhook."""
    instances = run.get("instances") or 1
    rate = run.get("rate_limit_per_minute") or 0
    webhook = run.get("webhook") or "none"
    return ", ".join(
        (
            f"{instances} instance{'s' if instances != 1 else ''}",
            f"cache {run.get('cache') or 'on'}",
            f"rate limit {rate}/min" if rate else "rate limit off",
            "webhook none" if webhook == "none" else f"webhook {webhook}",
        )
    )


def print_backend(b):
    instances = b.get("instances") or 1
    title = f"== {b['backend']}" + (f" × {instances} instances" if instances > 1 else "")
    extras = []
    if b.get("seed_s") is not None:
        extras.append(f"seed {b['seed_s']:.2f} s")
    if b.get("generate_s") is not None:
        extras.append(f"generate {b['generate_s']:.1f} s")
    if instances > 1:
        extras.append(f"start-up {b['startup_ms']} ms until all answer")
        extras.append(f"peak RSS {b['peak_rss_mib']:.1f} MiB (largest instance)")
    else:
        extras.append(f"start-up {b['startup_ms']} ms")
        extras.append(f"peak RSS {b['peak_rss_mib']:.1f} MiB")
    print(f"{title} ({', '.join(extras)})")
    headers = ("endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx", "sock err", "vs /health")
    rows = []
    for e in b["endpoints"]:
        label = e["name"] if e["method"] == "GET" else f"{e['method']} {e['name']}"
        ratio = e["ratio_to_health"]
        ratio = "-" if ratio is None else f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.3f}"
        rows.append(
            (
                label,
                _fmt_rps(e["rps"]),
                _fmt_ms(e["p50_ms"]),
                _fmt_ms(e["p99_ms"]),
                str(e["non2xx"]),
                str(e["socket_errors_total"]),
                ratio,
            )
        )
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]
    for i, r in enumerate([headers] + rows):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        print("  " + "  ".join(cells))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    if instances > 1:
        print(
            f"  {instances} instances on one database, one wrk each, started together: req/s,"
            " non-2xx and socket errors\n  are summed; p50 / p99 are the worse of the instances'"
            " (wrk cannot merge histograms;\n  the true combined percentile is at most that)."
        )
    if b.get("scale_paths"):
        print_scale(b["scale_paths"])
    pc = b.get("post_check")
    if pc:
        if pc["match"]:
            verdict = "match"
        elif pc["consistent"]:
            verdict = (
                f"differ by {pc['leads_stored'] - pc['responses_2xx']}: requests in flight when"
                f" wrk stopped ({pc['in_flight_at_stop']} sent, never answered to wrk) — consistent"
            )
        else:
            verdict = "MISMATCH"
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(pc["statuses"].items()))
        print(
            f"  POST check: {pc['responses_2xx']} 2xx responses ({codes or 'no status counts'}),"
            f" {pc['leads_stored']} leads stored ({pc['leads_before']} → {pc['leads_after']})"
            f" → {verdict}"
        )


def summary_line(run, backends):
    parts = []
    for b in backends:
        rps = {e["name"]: e["rps"] for e in b["endpoints"]}
        post = next((e for e in b["endpoints"] if e["method"] == "POST"), None)
        bits = [f"/health {_fmt_rps(rps.get('/health', 0))}/s"]
        sched = next((e for e in b["endpoints"] if e["name"] == "/api/v1/schedule"), None)
        if sched:
            bits.append(f"schedule {_fmt_rps(sched['rps'])}/s ({sched['ratio_to_health']:.2f})")
        if post:
            bits.append(f"POST leads {_fmt_rps(post['rps'])}/s ({post['ratio_to_health']:.2f})")
        bits.append(f"start-up {b['startup_ms']} ms")
        bits.append(f"RSS {b['peak_rss_mib']:.1f} MiB")
        if "post_check" in b:
            pc = b["post_check"]
            bits.append(
                f"POST 2xx {pc['responses_2xx']} / stored {pc['leads_stored']} "
                + ("match" if pc["match"] else "consistent" if pc["consistent"] else "MISMATCH")
            )
        errs = sum(e["non2xx"] + e["socket_errors_total"] for e in b["endpoints"])
        bits.append(f"{errs} errors")
        sc = b.get("scale_paths")
        if sc:
            met = sum(1 for p in sc["paths"] if p["met"])
            bits.append(f"scale paths {met}/{len(sc['paths'])} targets met")
        parts.append(f"{b['backend']}: " + ", ".join(bits))
    return f"bench [{run.get('mode')}; {_run_mode(run)}] " + " | ".join(parts)


def report(run_dir, outputs):
    run_dir = Path(run_dir)
    run = {k: _value(v) for k, v in _read_tsv(run_dir / "run.tsv")}
    order = [b for b in str(run.get("backends", "")).split() if (run_dir / b).is_dir()]
    backends = [load_backend(run_dir / b) for b in order]
    doc = {**run, "backends": backends}
    print()
    print(
        f"Cohai bench — {run.get('timestamp')}, mode {run.get('mode')}, "
        f"{run.get('threads')} threads × {run.get('connections')} connections, "
        f"{run.get('warmup_s')} s warm-up + {run.get('duration_s')} s per endpoint, "
        f"{run.get('cpus')} CPUs, commit {run.get('git_commit')}"
    )
    print(f"Backend{'s' if len(order) != 1 else ''} {' '.join(order)}; {_run_mode(run)}")
    for b in backends:
        print()
        print_backend(b)
    print()
    for out in outputs:
        Path(out).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(summary_line(run, backends))
    return 0


def json_path(path):
    value = json.load(sys.stdin)
    for part in filter(None, path.split(".")):
        value = value[int(part)] if isinstance(value, list) else value[part]
    print(value if not isinstance(value, (dict, list)) else json.dumps(value))


def main(argv):
    if len(argv) >= 2 and argv[0] == "parse-wrk":
        print(json.dumps(parse_wrk_files(argv[1:]), indent=2))
        return 0
    if len(argv) >= 2 and argv[0] == "line":
        r = parse_wrk_files(argv[1:])
        text = f"      {_fmt_rps(r['rps'])} req/s, p50 {_fmt_ms(r['p50_ms'])} ms, p99 {_fmt_ms(r['p99_ms'])} ms"
        if "per_instance" in r:
            # req/s summed, percentiles the worse instance's (merge_runs); then each instance.
            text += " [sum / worst of " + "; ".join(
                f"{_fmt_rps(i['rps'])} req/s, p99 {_fmt_ms(i['p99_ms'])} ms" for i in r["per_instance"]
            ) + "]"
        if r["non2xx"] or r["socket_errors_total"]:
            text += f", {r['non2xx']} non-2xx, {r['socket_errors_total']} socket errors"
        if r["statuses"]:
            text += ", statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        print(text)
        return 0
    if len(argv) == 2 and argv[0] == "json-path":
        json_path(argv[1])
        return 0
    if len(argv) >= 2 and argv[0] == "report":
        return report(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
