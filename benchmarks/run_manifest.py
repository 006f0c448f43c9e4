"""Rerun the experiments of ``benchmarks/manifest.toml`` (what ``make bench`` calls).

    python benchmarks/run_manifest.py              # the fast entries
    python benchmarks/run_manifest.py --full       # every entry (hours)
    python benchmarks/run_manifest.py --only demo_digits.json gnn_timing_cora.json
    python benchmarks/run_manifest.py --list       # file, cost, needs, whether they are met

Commands run from the repository root with ``OMP_WAIT_POLICY=PASSIVE``;
``python`` is this interpreter and ``graphvar`` its console script. An entry
whose needs are not met here (a dataset not found locally, GraphLearning not
importable) is skipped with a message. Prints the wall time and load average
of each entry; exits 1 if a command failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "benchmarks" / "manifest.toml"
NEEDS = ("planetoid", "fashionmnist", "fashionmnist-vae", "graphlearning")


def load_manifest(path: Path = MANIFEST) -> list[dict]:
    """The ``[[result]]`` entries of the manifest, validated."""
    entries = tomllib.loads(path.read_text())["result"]
    for e in entries:
        missing = {"file", "cost", "needs", "commands"} - set(e)
        if missing:
            raise ValueError(f"{path}: entry {e.get('file')!r} lacks {sorted(missing)}")
        if e["cost"] not in ("fast", "full"):
            raise ValueError(f"{path}: {e['file']}: cost must be 'fast' or 'full', got {e['cost']!r}")
        for need in e["needs"]:
            if need not in NEEDS and not need.startswith("xmc:"):
                raise ValueError(f"{path}: {e['file']}: unknown need {need!r}; known: {NEEDS} and xmc:<name>")
    return entries


def _roots(sub: str) -> list[Path]:
    roots = [Path(os.environ.get("GRAPHVAR_DATA") or ROOT / "data") / sub]
    if os.environ.get("GRAPHVAR_SHARED_DATA"):
        roots.append(Path(os.environ["GRAPHVAR_SHARED_DATA"]) / sub)
    return roots


def need_met(need: str) -> bool:
    """Whether ``need`` is available on this machine without a download."""
    if need == "graphlearning":
        return importlib.util.find_spec("graphlearning") is not None
    if need == "planetoid":
        return any((r / "ind.cora.x").exists() or (r / "cora" / "ind.cora.x").exists() for r in _roots("planetoid"))
    if need == "fashionmnist":
        return any(p.is_dir() for p in [Path("/usr/share/datasets/fashion-mnist"), *_roots("fashion-mnist")])
    if need == "fashionmnist-vae":
        return True  # trained (about 8 min on 2 CPU threads) and cached on first use
    name = need.split(":", 1)[1]
    return any(r.is_dir() for r in _roots(f"xmc/{name}"))


def _argv(command: str) -> list[str]:
    argv = shlex.split(command)
    if argv[0] == "python":
        argv[0] = sys.executable
    elif argv[0] == "graphvar":
        script = Path(sys.executable).parent / "graphvar"
        argv[:1] = [str(script)] if script.exists() else [sys.executable, "-c",
                                                          "import sys; from graphvar.cli import main; sys.exit(main())"]
    return argv


def run_entry(entry: dict, dry_run: bool = False) -> bool:
    """Run one entry's commands in order; ``True`` when all succeeded."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "KEOPS_VERBOSE": "0", "PYKEOPS_VERBOSE": "0"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for command in entry["commands"]:
        print(f"$ {command}", flush=True)
        if dry_run:
            continue
        if subprocess.run(_argv(command), cwd=ROOT, env=env).returncode != 0:
            print(f"FAILED: {command}", file=sys.stderr)
            return False
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="run every entry, not only the fast ones")
    p.add_argument("--only", nargs="+", default=None, metavar="FILE", help="run these result files only")
    p.add_argument("--list", action="store_true", help="list the entries and whether their needs are met")
    p.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    args = p.parse_args(argv)
    entries = load_manifest()
    if args.only:
        unknown = set(args.only) - {e["file"] for e in entries}
        if unknown:
            p.error(f"not in the manifest: {sorted(unknown)}")
        entries = [e for e in entries if e["file"] in args.only]
    elif not args.full:
        entries = [e for e in entries if e["cost"] == "fast"]
    if args.list:
        for e in entries:
            unmet = [n for n in e["needs"] if not need_met(n)]
            print(f"{e['file']:48s} {e['cost']:5s} needs {e['needs'] or '-'}" + (f"  MISSING {unmet}" if unmet else ""))
        return 0
    failed, summary = [], []
    for e in entries:
        unmet = [n for n in e["needs"] if not need_met(n)]
        if unmet:
            print(f"skip {e['file']}: needs {unmet}, not found here", flush=True)
            summary.append((e["file"], "skipped", 0.0, None))
            continue
        print(f"== {e['file']} ({e['cost']})", flush=True)
        t0 = time.perf_counter()
        ok = run_entry(e, dry_run=args.dry_run)
        summary.append((e["file"], "ok" if ok else "FAILED", time.perf_counter() - t0, os.getloadavg()[0]))
        if not ok:
            failed.append(e["file"])
    print("\n| result | status | wall s | load (1 min) at end |\n|---|---|---:|---:|")
    for name, status, secs, load in summary:
        print(f"| {name} | {status} | {secs:.1f} | {'' if load is None else f'{load:.2f}'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
