"""The Markdown rendering of ``bench_gpu.py``'s record (its headline table against the CPU)."""

from __future__ import annotations

__all__ = ["headline", "render"]


def _f(x, nd=3):
    return "" if x is None else f"{x:.{nd}g}"


def headline(rec: dict) -> list[tuple[str, float, float | None]]:
    """(label, seconds here, seconds on the CPU or None) for the issue's targets."""
    def pick(rows, stage, impl=None):
        for r in rows:
            if r["stage"].startswith(stage) and (impl is None or r["impl"] == impl):
                return r["seconds"]
        return None

    cpu = rec.get("cpu", {})
    crow = cpu.get("rows", [])
    out = [(f"k-NN search, pipeline backend ({rec['primary_backend']}"
            + (f" here, {cpu['backends'][0]} on CPU)" if cpu else ")"),
            pick(rec["rows"], "k-NN search", rec["primary_backend"]),
            pick(crow, "k-NN search", cpu["backends"][0]) if cpu else None)]
    for stage in ("weights + symmetrise", "V-Poisson, 1 labeled set", "pipeline:"):
        out.append((stage.rstrip(":") + (" k-NN + weights + V-Poisson, 1 set (target < 1 s on an H100)"
                                         if stage == "pipeline:" else ""),
                    pick(rec["rows"], stage), pick(crow, stage) if cpu else None))
    for method in ("V-Poisson", "Poisson"):
        sw = [s for s in rec["sweep"] if s["method"] == method]
        if sw:
            csw = [s for s in cpu.get("sweep", []) if s["method"] == method]
            total = sum(s["seconds"] for s in sw)
            per_cpu = sum(s["seconds"] for s in csw) / sum(s["trials"] for s in csw) if csw else None
            trials = sw[0]["trials"]
            out.append((f"{method} sweep, 5 rates x {trials} sets (target < 30 s for 5 x 100"
                        + (f"; CPU column extrapolated from {csw[0]['trials']} sets/rate)" if csw else ")"), total,
                        per_cpu * 5 * trials if per_cpu is not None else None))
    return out


def render(rec: dict) -> str:
    cfg, m = rec["config"], rec["machine"]
    gpu = m.get("gpu", {})
    head = (f"FashionMNIST n={cfg['n']}, {rec['data']['features']} features, k={cfg['k']}, device "
            f"`{gpu.get('name', cfg['device'])}` (driver {gpu.get('driver')}), torch {m['versions']['torch']}, "
            f"pykeops {m['versions']['pykeops']}, {m['torch_threads']} CPU thread(s), load average "
            f"{m['loadavg_start'][0]:.2f} -> {rec['loadavg_end'][0]:.2f} on {m['cpu_count']} CPUs, "
            f"{m['date_utc']}. Times: median of {cfg['repeats']} warm runs after a first call "
            f"({'CUDA events' if cfg['device'].startswith('cuda') else 'perf_counter'})."
            + (f" CPU comparison: {cfg['cpu_repeats']} warm run(s), {cfg['cpu_trials']} sets/rate, "
               f"backends {rec['cpu']['backends']}." if "cpu" in rec else "")
            + (f" Failed backends: {rec['backend_errors']}." if rec.get("backend_errors") else ""))
    lines = [head, "", "| headline | this device s | CPU s | CPU / this |", "|---|---:|---:|---:|"]
    for label, value, cpu_value in headline(rec):
        ratio = _f(cpu_value / value) if cpu_value is not None and value else ""
        lines.append(f"| {label} | {_f(value)} | {_f(cpu_value)} | {ratio} |")
    head = "\n".join(lines) + "\n\nAll stages:"
    cpu = {(r["stage"], r["impl"]): r for r in rec.get("cpu", {}).get("rows", [])}
    cpu_stage = {r["stage"]: r for r in rec.get("cpu", {}).get("rows", [])}
    lines = [head, "", "| stage | backend / impl | first call s | warm s | CPU warm s | CPU / this |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rec["rows"]:
        c = cpu.get((r["stage"], r["impl"])) or (cpu_stage.get(r["stage"]) if "k-NN" not in r["stage"] else None)
        ratio = _f(c["seconds"] / r["seconds"]) if c and r["seconds"] > 0 else ""
        acc = f" (acc {100 * r['accuracy']:.1f} %)" if "accuracy" in r else ""
        lines.append(f"| {r['stage']}{acc} | {r['impl']} | {_f(r['first_seconds'])} | {_f(r['seconds'])} | "
                     f"{_f(c['seconds']) if c else ''} | {ratio} |")
    if rec["sweep"]:
        lines += ["", f"Sweep: {cfg['trials']} labeled sets per rate, batches of {cfg['batch']} sets per solve "
                      f"(total {sum(s['seconds'] for s in rec['sweep']):.3g} s).", "",
                  "| method | labels/class | accuracy % (mean ± std) | seconds | s / set | CPU s / set | "
                  "CPU/this per set | agreement with CPU % |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        csw = {(s["method"], s["rate"]): s for s in rec.get("cpu", {}).get("sweep", [])}
        for s in rec["sweep"]:
            c = csw.get((s["method"], s["rate"]))
            per, cper = s["seconds"] / s["trials"], (c["seconds"] / c["trials"] if c else None)
            agree = rec.get("agreement", {}).get(f"{s['method']}_{s['rate']}")
            lines.append(f"| {s['method']} | {s['rate']} | {100 * s['accuracy_mean']:.2f} ± "
                         f"{100 * s['accuracy_std']:.2f} | {_f(s['seconds'])} | {_f(per)} | {_f(cper)} | "
                         f"{_f(cper / per) if cper else ''} | {_f(100 * agree, 5) if agree is not None else ''} |")
    if rec.get("agreement"):
        lines += ["", "Agreement (fraction of nodes with the same prediction): " + ", ".join(
            f"{k} {100 * v:.3f} %" for k, v in rec["agreement"].items())]
    if rec.get("keops_ops"):
        lines += ["", "KeOps reductions vs the stored sparse graph / torch (warm s; first call in brackets):", "",
                  "| operator | n | columns | KeOps s | reference s | reference | max abs diff |",
                  "|---|---:|---:|---:|---:|---|---:|"]
        for r in rec["keops_ops"]:
            lines.append(f"| {r['op']} | {r['n']} | {r['cols']} | {_f(r['keops_seconds'])} "
                         f"({_f(r['keops_first_seconds'])}) | {_f(r['reference_seconds'])} | {r['reference']} | "
                         f"{_f(r.get('max_abs_diff'), 2)} |")
    return "\n".join(lines) + "\n"


