"""The trials benchmark: seeded labeled sets, a method registry, a runner and reports.

Every method sees the same stratified labeled sets, drawn per
``(dataset, rate, trial)`` from one seed; results are written as JSON
(per-trial accuracies and timings, machine, versions, load) and rendered as
Markdown tables (mean (std), paired difference vs Poisson ± standard error)
and a PNG plot. ``graphvar bench`` is the command-line front end.
"""

from .methods import available_methods, get_method, parse_method
from .protocol import TrialTask, evaluation_mask, labeled_sets
from .report import markdown_table, paired_difference, plot_accuracy, read_json, write_json
from .runner import run_benchmark, variant_name

__all__ = [
    "TrialTask",
    "labeled_sets",
    "evaluation_mask",
    "available_methods",
    "get_method",
    "parse_method",
    "run_benchmark",
    "variant_name",
    "markdown_table",
    "paired_difference",
    "plot_accuracy",
    "read_json",
    "write_json",
]
