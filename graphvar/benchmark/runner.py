"""Run the trials benchmark: every method on the same seeded labeled sets.

For each label rate the runner draws ``trials`` stratified labeled sets
(:func:`graphvar.benchmark.protocol.labeled_sets`), then

* solves all of them at once with each core solver (``(B, n)`` labels, one
  wide product per iteration), once per dispersion-normalisation setting,
  and derives predictions with and without class priors from those scores;
* runs every per-trial (GNN) method once per labeled set.

Accuracy is the percentage of correct predictions on the nodes outside the
labeled set (and outside the validation set, if any). Timings are wall
seconds: a batched solve's time is split evenly over its labeled sets.
"""

from __future__ import annotations

import time
import warnings
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..provenance import loadavg, provenance
from ..solvers.normalize import equalize_dispersion
from ..solvers.priors import check_class_priors, class_priors_from_labels, volume_label_projection
from .methods import LabelMethod, ScoreMethod, get_method
from .protocol import TrialTask, evaluation_mask, labeled_sets, trial_rng
from ..validation import check_int

__all__ = ["run_benchmark", "variant_name", "SWITCHES"]

#: Accepted values of the ``normalize`` and ``priors`` switches.
SWITCHES = {"off": (False,), "on": (True,), "both": (False, True)}


def variant_name(method: str, normalize: bool, priors: bool) -> str:
    """Row name of a score-method variant, e.g. ``poisson+norm+priors``."""
    return method + ("+norm" if normalize else "") + ("+priors" if priors else "")


def _switch(value, what: str) -> tuple[bool, ...]:
    if isinstance(value, bool):
        return (value,)
    if value not in SWITCHES:
        raise ValueError(f"{what} must be one of {sorted(SWITCHES)} (or a bool), got {value!r}")
    return SWITCHES[value]


def _accuracy(pred: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> float:
    return float(100.0 * np.mean(pred[mask] == labels[mask]))


def run_benchmark(
    graph,
    labels,
    *,
    dataset: str,
    methods: Sequence[str] = ("laplace", "poisson", "vlaplace", "vpoisson"),
    rates: Iterable[int] = (1, 2, 3, 4, 5),
    trials: int = 10,
    seed: int = 0,
    features: np.ndarray | None = None,
    normalize="off",
    priors="off",
    class_priors=None,
    batch_size: int | None = None,
    reorder: bool = True,
    config: dict | None = None,
    progress: bool = True,
    on_result: Callable[[dict], None] | None = None,
) -> dict:
    """Run ``methods`` on ``trials`` seeded labeled sets per rate.

    Parameters
    ----------
    graph : graphvar.graph.Graph
        The graph every graph method uses.
    labels : array-like of int, shape (n,)
        True classes ``0..c-1``.
    dataset : str
        Dataset name; part of the labeled sets' seed and of the record.
    methods : sequence of str, ScoreMethod or LabelMethod
        Method names (see :func:`graphvar.benchmark.methods.available_methods`)
        or method objects (e.g. ``LabelMethod("mine", fn)`` for your own
        ``fn(task) -> labels``).
    rates : iterable of int
        Labels per class.
    trials : int
        Labeled sets per rate.
    seed : int
        Benchmark seed.
    features : numpy.ndarray, optional
        Node features handed to per-trial (GNN) methods.
    normalize : {"off", "on", "both"} or bool
        Dispersion normalisation of the core solvers' scores.
    priors : {"off", "on", "both"} or bool
        Volume-constrained prediction with class priors (core solvers).
    class_priors : array-like of shape (c,), optional
        Class fractions for ``priors``; default: the true fractions of
        ``labels`` over all nodes (the oracle GraphLearning's examples use).
    batch_size : int, optional
        Labeled sets solved together (default: all trials of a rate). On a
        CPU a sparse product costs about the same per column at any width,
        while a batch runs until its *slowest* labeled set stops, so small
        batches (even 1) are faster on large graphs.
    reorder : bool, default=True
        Solve on a reverse Cuthill-McKee renumbering of the graph (better
        memory locality: about 2.5× faster sparse products on a 70k k-NN
        graph). Results are mapped back to the original node order and equal
        those without reordering up to float rounding; labeled sets and
        per-trial (GNN) methods always use the original order.
    config : dict, optional
        Extra configuration stored in the record (graph description, k, ...).
    progress : bool, default=True
        Show a progress bar.
    on_result : callable, optional
        Called with the (partial) record after every (method, rate) cell, e.g.
        to write a checkpoint of a long run.

    Returns
    -------
    dict
        The benchmark record (see :mod:`graphvar.benchmark.report`).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != graph.n_nodes:
        raise ValueError(f"labels must have shape ({graph.n_nodes},), got {labels.shape}")
    labels = labels.astype(np.int64)
    n, c = labels.shape[0], int(labels.max()) + 1
    rates = [int(r) for r in rates]
    flags = (_switch(normalize, "normalize"), _switch(priors, "priors"))
    if not methods:
        raise ValueError("methods is empty: name at least one method")
    resolved = [m if isinstance(m, (ScoreMethod, LabelMethod)) else get_method(m) for m in methods]
    if True in flags[1] or any(getattr(m, "takes_priors", False) for m in resolved):
        class_priors = (
            class_priors_from_labels(labels, c) if class_priors is None else check_class_priors(class_priors, c)
        )
    batch_size = check_int(batch_size or trials, "batch_size", minimum=1)
    record = _new_record(dataset, graph, resolved, rates, trials, seed, flags, class_priors, batch_size,
                         reorder, config, n, c)
    cells = _Cells(record, rates, on_result)
    n_steps = len(rates) * sum(
        -(-trials // batch_size) if isinstance(m, ScoreMethod) else trials for m in resolved
    )
    bar = tqdm(total=n_steps, desc=f"bench {dataset}", disable=not progress, unit="solve")
    all_sets = {rate: labeled_sets(labels, rate, trials, seed=seed, key=dataset) for rate in rates}
    solver = _ScoreRunner(graph, labels, c, flags, class_priors, batch_size,
                          reorder and any(isinstance(m, ScoreMethod) for m in resolved))
    for method in resolved:
        for rate in rates:
            sets = all_sets[rate]
            bar.set_postfix_str(f"{method.name} rate={rate}")
            if isinstance(method, ScoreMethod):
                for name, acc, secs, extra in solver.run(method, sets, bar):
                    cells.add(name, rate, acc, secs, extra)
            else:
                acc, secs = _run_label_method(method, graph, features, labels, sets, seed, dataset, rate, bar)
                cells.add(method.name, rate, acc, secs)
            cells.publish()
    bar.close()
    cells.publish()
    return record


def _new_record(dataset, graph, resolved, rates, trials, seed, flags, class_priors, batch_size, reorder,
                config, n, c) -> dict:
    return {
        "dataset": dataset,
        "config": {
            "methods": [m.name for m in resolved],
            "rates": rates,
            "trials": int(trials),
            "seed": int(seed),
            "normalize": list(flags[0]),
            "priors": list(flags[1]),
            "class_priors": None if class_priors is None else np.asarray(class_priors).tolist(),
            "n_nodes": int(n),
            "n_edges": int(graph.n_edges),
            "n_classes": int(c),
            "batch_size": int(batch_size),
            "reorder": bool(reorder),
            **(config or {}),
        },
        **provenance(),
        "results": [],
    }


class _Cells:
    """The (method, rate) cells of a record, published in method order after every cell."""

    def __init__(self, record: dict, rates: list[int], on_result):
        self.record, self.rates, self.on_result = record, rates, on_result
        self.order: list[str] = []
        self.cells: dict[tuple[str, int], dict] = {}

    def add(self, name: str, rate: int, acc: list[float], secs: list[float], extra: dict | None = None):
        if name not in self.order:
            self.order.append(name)
        self.cells[(name, rate)] = {"method": name, "rate": rate, "accuracy": acc, "seconds": secs, **(extra or {})}

    def publish(self):
        self.record["results"] = [self.cells[(m, r)] for m in self.order for r in self.rates
                                  if (m, r) in self.cells]
        self.record["machine"]["loadavg_end"] = loadavg()
        if self.on_result is not None:
            self.on_result(self.record)


class _ScoreRunner:
    """Batched solves of a score method on (optionally) the RCM-renumbered graph, with its variants."""

    def __init__(self, graph, labels, c, flags, class_priors, batch_size, reorder: bool):
        self.graph, self.labels, self.c = graph, labels, c
        self.norm_flags, self.prior_flags = flags
        self.class_priors, self.batch_size = class_priors, batch_size
        self.solve_graph, self.perm, self.inverse = graph, None, None
        if reorder:
            self.solve_graph, perm = graph.reordered()
            self.perm = perm
            inverse = np.empty_like(perm)
            inverse[perm] = np.arange(perm.size)
            self.inverse = torch.from_numpy(inverse).to(graph.device)

    def _solve(self, method, chunk):
        n = self.labels.shape[0]
        Y = np.full((len(chunk), n), -1, dtype=np.int64)
        for b, s in enumerate(chunk):
            Y[b, s] = self.labels[s]
        with warnings.catch_warnings():
            # citation graphs have components without labels: counted by the accuracy instead
            warnings.filterwarnings("ignore", message=".*connected components with no labeled node")
            Ys = torch.from_numpy(Y if self.perm is None else Y[:, self.perm])
            raw, info = method.solve(self.solve_graph, Ys, normalize=False, n_classes=self.c,
                                     class_priors=self.class_priors)
        raw = torch.as_tensor(raw)
        return (raw if self.perm is None else raw[:, self.inverse]), info

    def run(self, method, sets, bar):
        """Yield ``(variant name, accuracies, seconds, extra)`` for every normalize × priors variant."""
        n = self.labels.shape[0]
        masks = [evaluation_mask(n, s) for s in sets]
        # MBO methods keep the priors themselves: their labels are the one variant
        norm_flags, prior_flags = ((False,), (False,)) if method.takes_priors else (self.norm_flags, self.prior_flags)
        names = [(nf, pf) for nf in norm_flags for pf in prior_flags]
        accs = {v: [] for v in names}
        secs = {v: [] for v in names}
        stops: list[int] = []
        for start in range(0, len(sets), self.batch_size):
            chunk = sets[start : start + self.batch_size]
            t0 = time.perf_counter()
            raw, info = self._solve(method, chunk)
            solve_s = time.perf_counter() - t0
            stops += list(info.get("stop_times", []))
            unl = self.graph.informed(np.stack([np.isin(np.arange(n), s) for s in chunk]))
            unl[np.arange(len(chunk))[:, None], chunk] = False
            for nf in norm_flags:
                t1 = time.perf_counter()
                S = equalize_dispersion(raw, torch.from_numpy(unl).to(raw.device)) if nf else raw
                norm_s = time.perf_counter() - t1
                for pf in prior_flags:
                    t2 = time.perf_counter()
                    pred = volume_label_projection(S, self.class_priors) if pf else torch.argmax(S, dim=-1)
                    pred = pred.cpu().numpy()
                    total = solve_s + norm_s + time.perf_counter() - t2
                    for b in range(len(chunk)):
                        accs[(nf, pf)].append(_accuracy(pred[b], self.labels, masks[start + b]))
                        secs[(nf, pf)].append(total / len(chunk))
            bar.update(1)
        extra = {"stop_times": stops} if stops else {}
        for nf, pf in names:
            yield variant_name(method.name, nf, pf), accs[(nf, pf)], secs[(nf, pf)], extra


def _run_label_method(method, graph, features, labels, sets, seed, dataset, rate, bar):
    """Run a per-trial (GNN) method once per labeled set: accuracies and seconds."""
    n = labels.shape[0]
    accs, secs = [], []
    for t, s in enumerate(sets):
        task = TrialTask(graph=graph, features=features, labels=labels, train_idx=s, val_idx=None,
                         seed=int(trial_rng(seed, dataset, rate, t).integers(2**31 - 1)))
        t0 = time.perf_counter()
        pred = np.asarray(method.fn(task))
        secs.append(time.perf_counter() - t0)
        if pred.shape != (n,):
            raise ValueError(f"method {method.name!r} returned shape {pred.shape}, expected ({n},)")
        accs.append(_accuracy(pred, labels, evaluation_mask(n, s)))
        bar.update(1)
    return accs, secs
