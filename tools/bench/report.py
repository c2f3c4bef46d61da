"""The results as a table, and the verdict on each target of issue #5."""

from __future__ import annotations

from typing import Any

from tools.bench.mixes import SUPPRESSED_POOL

#: The targets of issue #5 that :func:`evaluate` checks.
TARGETS = {
    "cpu_us_per_msg": 30.0,
    "ratio": 0.5,
    "added_p99_ms": 2.0,
    "store_cost": 0.10,
    "rss_mb": 400.0,
    "ready_s": 15.0,
}


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def render(results: dict[str, Any]) -> str:
    cfg = results["config"]
    lines = [
        "",
        f"Stopgate benchmark: {cfg['count']:,} submit_sm per run, window {cfg['window']},"
        f" {cfg['binds']} bind(s), median of {cfg['repeat']}; {cfg['machine_cpus']} CPUs shared by"
        " load generator, simulator and proxy",
        f"destinations: {cfg['numbers']}",
        "ratio: the median of each repetition's proxied/direct (the two run back to back)",
    ]
    wake = results.get("environment", {}).get("wakeup_penalty")
    if wake:
        lines.append(
            "this machine: one message's decode + footer takes "
            + ", ".join(f"{value} us {key[:-3].replace('_', ' ')}" for key, value in wake.items())
            + " (cold caches after idling inflate per-message CPU at moderate rates)"
        )
    for store in results["stores"]:
        label = "empty" if store["size"] == 0 else f"{store['size']:,}"
        lines += [
            "",
            f"Store: {label} ({store['rows']:,} suppressed rows; the {SUPPRESSED_POOL:,}-number test pool is"
            " in every store)",
            f"{'mix':<13} {'direct/s':>9} {'proxied/s':>9} {'ratio':>5} {'p50 d/p ms':>12} {'p99 d/p ms':>12}"
            f" {'+p99 ms':>7} {'proxy us/msg':>12}  limited by (proxied run)",
        ]
        for mix, s in store["mixes"].items():
            lines.append(
                f"{mix:<13} {_fmt_rate(s['direct_throughput']):>9} {_fmt_rate(s['proxied_throughput']):>9}"
                f" {s['ratio']:>5.2f} {s['direct_p50_ms']:>5.2f}/{s['proxied_p50_ms']:<6.2f}"
                f" {s['direct_p99_ms']:>5.2f}/{s['proxied_p99_ms']:<6.2f} {s['added_p99_ms']:>7.2f}"
                f" {s['proxy_cpu_us_per_msg']:>12.1f}  {s['limited_by_proxied']}"
                + (f"  PROBLEMS: {'; '.join(s['problems'])}" if s["problems"] else "")
            )
        if "rate" in store:
            r = store["rate"]
            lines.append(
                f"steady {r['rate']:,.0f} msg/s (marketing, {r['count']:,} msgs):"
                f" p99 direct {r['direct_p99_ms']:.2f} ms,"
                f" proxied {r['proxied_p99_ms']:.2f} ms, added {r['added_p99_ms']:.2f} ms"
                f" (p50 {r['direct_p50_ms']:.2f} -> {r['proxied_p50_ms']:.2f} ms); proxy CPU"
                f" {r['proxy_utilization'] * 100:.0f}% of a core"
            )
        vis = store["optout_visibility"]
        lines.append(
            f"start-up: ready after {store['ready_startup_seconds']} s"
            f" (spawn to ready {store['spawn_to_ready_s']} s);"
            f" RSS ready {store['rss_ready_mb']} MB, after runs {store['rss_after_mb']} MB,"
            f" peak {store['rss_peak_mb']} MB; new opt-out refused at once: {vis.get('refused_at_once')}"
            f" ({vis.get('stop_to_refusal_ms')} ms from STOP to refusal)"
        )
    if results.get("store_cost"):
        lines += ["", "Store cost (proxied throughput and proxy CPU against the empty store):"]
        for row in results["store_cost"]:
            lines.append(
                f"  {row['size']:,} rows, {row['mix']}: {row['proxied_throughput']:,.0f} vs"
                f" {row['baseline_throughput']:,.0f} msg/s = {row['throughput_cost'] * 100:+.1f}% cost;"
                f" CPU {row['proxy_cpu_us_per_msg']:.1f} vs {row['baseline_cpu_us_per_msg']:.1f} us/msg"
                f" ({row['cpu_cost'] * 100:+.1f}%)"
            )
    lines += ["", "Targets (issue #5):"]
    for t in results["targets"]:
        lines.append(f"  [{t['verdict']:<4}] {t['what']}: {t['measured']}")
    return "\n".join(lines)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []

    def add(what: str, measured: str, ok: bool | None) -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        targets.append({"what": what, "measured": measured, "verdict": verdict})

    stores = results["stores"]
    base = next((s for s in stores if s["size"] == 0), stores[0] if stores else None)
    if base is not None and "marketing" in base["mixes"]:
        m = base["mixes"]["marketing"]
        add(
            f"proxy CPU <= {TARGETS['cpu_us_per_msg']:.0f} us/msg with footer + check (marketing)",
            f"{m['proxy_cpu_us_per_msg']:.1f} us/msg",
            m["proxy_cpu_us_per_msg"] <= TARGETS["cpu_us_per_msg"],
        )
        add(
            f"proxied >= {TARGETS['ratio']}x direct at window {results['config']['window']} (marketing)",
            f"{m['ratio']:.2f}x, median of the {m['runs']} paired runs"
            f" ({', '.join(f'{r:.2f}' for r in m['ratios'])}; ratio of the medians"
            f" {m['ratio_of_medians']:.2f}x: {m['proxied_throughput']:,.0f} vs"
            f" {m['direct_throughput']:,.0f} msg/s)",
            m["ratio"] >= TARGETS["ratio"],
        )
    if base is not None and "rate" in base:
        r = base["rate"]
        add(
            f"p99 added <= {TARGETS['added_p99_ms']:.0f} ms at a steady {r['rate']:,.0f} msg/s",
            f"{r['added_p99_ms']:.2f} ms ({r['direct_p99_ms']:.2f} -> {r['proxied_p99_ms']:.2f} ms)",
            r["added_p99_ms"] <= TARGETS["added_p99_ms"],
        )
    for store in stores:
        if store["size"] < 1_000_000:
            continue
        label = f"{store['size']:,} store"
        cost = next((c for c in results.get("store_cost", []) if c["size"] == store["size"]), None)
        if cost is not None:
            add(
                f"{label}: throughput cost <= {TARGETS['store_cost'] * 100:.0f}% vs empty ({cost['mix']})",
                f"{cost['throughput_cost'] * 100:+.1f}% (CPU {cost['cpu_cost'] * 100:+.1f}%)",
                cost["throughput_cost"] <= TARGETS["store_cost"],
            )
        add(
            f"{label}: RSS <= {TARGETS['rss_mb']:.0f} MB",
            f"{store['rss_ready_mb']} MB ready, {store['rss_after_mb']} MB after the runs,"
            f" peak {store['rss_peak_mb']} MB",
            max(store["rss_after_mb"], store["rss_peak_mb"]) <= TARGETS["rss_mb"],
        )
        add(
            f"{label}: serving in <= {TARGETS['ready_s']:.0f} s",
            f"{store['ready_startup_seconds']} s (ready log), {store['spawn_to_ready_s']} s from spawn",
            store["spawn_to_ready_s"] <= TARGETS["ready_s"],
        )
        vis = store["optout_visibility"]
        add(
            f"{label}: new opt-out visible to the check at once",
            f"refused={vis.get('refused_at_once')}, {vis.get('stop_to_refusal_ms')} ms STOP -> refusal",
            bool(vis.get("refused_at_once")),
        )
    if not any(s["size"] >= 1_000_000 for s in stores):
        add("10,000,000-row store targets", "not run (use --store-size 0,10M)", None)
    return targets
