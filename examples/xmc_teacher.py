"""Graph teacher for extreme multi-label classification, end to end on Corel5k.

1. read the XC-format training/test files;
2. fit the graph teacher (k-NN graph, leave-one-out propagation, isotonic calibration);
3. export p̂ and the LEVER soft targets (.npz + LF text + manifest.json);
4. train the reference student on y alone and on the soft targets, compare on test.

Run:  python examples/xmc_teacher.py [DATASET_DIR_OR_NAME] [OUT_DIR]
(default dataset ``corel5k`` resolved through GRAPHVAR_SHARED_DATA / GRAPHVAR_DATA).
"""

from __future__ import annotations

import sys

import torch
from sklearn.preprocessing import normalize

from graphvar.xmc.demo import load_xmc_dataset
from graphvar.xmc.export import export_teacher
from graphvar.xmc.metrics import evaluate
from graphvar.xmc.propensity import inverse_propensity
from graphvar.xmc.student import OneVsAllStudent
from graphvar.xmc.teacher import Teacher


def main(dataset: str = "corel5k", out_dir: str = "xmc_teacher_out") -> None:
    torch.set_num_threads(1)
    Xtr, Ytr, Xte, Yte = load_xmc_dataset(dataset)
    Xtr, Xte = normalize(Xtr), normalize(Xte)
    # the configuration chosen on a validation split of train (benchmarks/results/xmc_combos_*.json)
    teacher = Teacher(k=10, solver="poisson", n_steps=4, topk=50, lam=0.0, truth="one", progress=True).fit(Xtr, Ytr)
    manifest = export_teacher(teacher, out_dir)
    print(f"exported {list(manifest['files'])} to {out_dir} in {manifest['timings_s']['total_s']:.1f} s")
    inv_p = inverse_propensity(Ytr)
    for name, targets in [("student", Ytr), ("student + graph teacher", teacher.soft_targets())]:
        student = OneVsAllStudent(epochs=10, lr=0.03, progress=True).fit(Xtr, targets)
        res = evaluate(student.predict_topk(Xte, k=5), Yte, inv_p)
        print(f"{name:>24}: " + "  ".join(f"{k} {100 * res[k]:.2f}" for k in ("P@1", "P@5", "PSP@5", "coverage@5")))


if __name__ == "__main__":
    main(*sys.argv[1:3])
