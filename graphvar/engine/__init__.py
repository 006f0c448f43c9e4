"""The propagation engine: one step kernel, its Chebyshev-series evaluation, one stopping rule, the top-k iterate.

``docs/design.md`` §9 describes it; :mod:`graphvar.graph.operator` is the
operator layer it runs on.
"""

from .chebyshev import power_series, power_series_coefficients
from .kernel import Clamp, centre, iterate, step
from .stopping import random_walk_stop_times
from .topk import TopKScores, topk_per_row

__all__ = ["Clamp", "centre", "step", "iterate", "power_series", "power_series_coefficients", "random_walk_stop_times",
           "TopKScores", "topk_per_row"]
