"""Medians over the repetitions of one mix, and the cost of a large store against the empty one."""

from __future__ import annotations

from typing import Any

from tools.bench.stats import median


def summarize_pairs(runs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the (direct, proxied) pairs of one mix or rate."""
    direct = [d for d, _ in runs]
    proxied = [p for _, p in runs]

    def med(items: list[dict[str, Any]], *path: str) -> float:
        values = []
        for item in items:
            value: Any = item
            for key in path:
                value = value[key]
            values.append(float(value))
        return round(median(values), 3)

    d_thr, p_thr = med(direct, "throughput"), med(proxied, "throughput")
    out = {
        "runs": len(runs),
        "direct_throughput": d_thr,
        "proxied_throughput": p_thr,
        # Each repetition runs direct and proxied back to back, so their ratio is taken in one phase of
        # the machine (whose speed drifts by up to 1.7x over seconds here): the median of those paired
        # ratios is the figure reported; the ratio of the two medians mixes phases and is kept beside it.
        "ratio": round(median(p["throughput"] / d["throughput"] for d, p in runs), 3),
        "ratio_of_medians": round(p_thr / d_thr, 3) if d_thr else 0.0,
        "ratios": [round(p["throughput"] / d["throughput"], 3) for d, p in runs],
        "direct_p50_ms": med(direct, "latency_ms", "p50"),
        "direct_p99_ms": med(direct, "latency_ms", "p99"),
        "proxied_p50_ms": med(proxied, "latency_ms", "p50"),
        "proxied_p99_ms": med(proxied, "latency_ms", "p99"),
        "proxy_cpu_us_per_msg": med(proxied, "proxy_cpu_us_per_msg"),
        "sim_cpu_us_per_msg_direct": med(direct, "sim_cpu_us_per_msg"),
        "loadgen_cpu_us_per_msg": med(direct + proxied, "loadgen_cpu_us_per_msg"),
        "proxy_utilization": med(proxied, "utilization", "proxy"),
        "other_load_cores": med(direct + proxied, "other_load_cores"),
        "limited_by_direct": _median_run(direct)["limited_by"],
        "limited_by_proxied": _median_run(proxied)["limited_by"],
        "problems": sorted({problem for run in direct + proxied for problem in run["problems"]}),
    }
    out["added_p50_ms"] = round(out["proxied_p50_ms"] - out["direct_p50_ms"], 3)
    out["added_p99_ms"] = round(out["proxied_p99_ms"] - out["direct_p99_ms"], 3)
    out["added_p99_per_pair_median_ms"] = round(
        median(p["latency_ms"]["p99"] - d["latency_ms"]["p99"] for d, p in runs), 3
    )
    return out


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["throughput"])
    return ordered[(len(ordered) - 1) // 2]


def store_costs(stores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = next((s for s in stores if s["size"] == 0), None)
    if base is None:
        return []
    rows = []
    for store in stores:
        if store is base:
            continue
        for mix, s in store["mixes"].items():
            b = base["mixes"].get(mix)
            if b is None:
                continue
            rows.append(
                {
                    "size": store["size"],
                    "mix": mix,
                    "proxied_throughput": s["proxied_throughput"],
                    "baseline_throughput": b["proxied_throughput"],
                    "throughput_cost": round(1 - s["proxied_throughput"] / b["proxied_throughput"], 4),
                    "proxy_cpu_us_per_msg": s["proxy_cpu_us_per_msg"],
                    "baseline_cpu_us_per_msg": b["proxy_cpu_us_per_msg"],
                    "cpu_cost": round(s["proxy_cpu_us_per_msg"] / b["proxy_cpu_us_per_msg"] - 1, 4),
                }
            )
    return rows
