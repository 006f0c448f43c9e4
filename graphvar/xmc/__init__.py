"""Extreme multi-label classification: file formats, metrics, teacher export.

One import per line so that modules can be added independently.
"""

from graphvar.xmc.formats import load_npz, read_lf, read_xc, save_npz, write_lf, write_xc
from graphvar.xmc.metrics import (
    coverage_at_k,
    evaluate,
    ndcg_at_k,
    precision_at_k,
    psndcg_at_k,
    psprecision_at_k,
    recall_at_k,
    top_k,
)
from graphvar.xmc.propensity import inverse_propensity, propensity, propensity_presets

__all__ = [
    "read_xc",
    "write_xc",
    "read_lf",
    "write_lf",
    "save_npz",
    "load_npz",
    "top_k",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "psprecision_at_k",
    "psndcg_at_k",
    "coverage_at_k",
    "evaluate",
    "inverse_propensity",
    "propensity",
    "propensity_presets",
]

# Teacher, soft labels, student and export.
from graphvar.xmc.export import export_teacher, load_teacher  # noqa: E402
from graphvar.xmc.gandalf import (  # noqa: E402
    augment_with_label_features,
    gandalf_soft_labels,
    label_centroid_features,
)
from graphvar.xmc.propagation import propagate_topk  # noqa: E402
from graphvar.xmc.student import OneVsAllStudent  # noqa: E402
from graphvar.xmc.teacher import Teacher, lever_targets  # noqa: E402

__all__ += [
    "Teacher",
    "lever_targets",
    "propagate_topk",
    "gandalf_soft_labels",
    "label_centroid_features",
    "augment_with_label_features",
    "OneVsAllStudent",
    "export_teacher",
    "load_teacher",
]
