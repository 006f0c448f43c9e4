"""A first run without surprises: a light import, distinguishable plot lines, bench defaults."""

import subprocess
import sys

import pytest

from graphvar.benchmark.report import line_styles

HEAVY = ("sklearn", "torch_geometric", "pykeops", "faiss", "matplotlib", "networkx")


def test_import_graphvar_loads_no_optional_or_heavy_package():
    code = ("import sys, graphvar; graphvar.knn_graph, graphvar.poisson; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    # the lazy names still resolve, and load their dependencies on first use
    code = "import sys, graphvar; graphvar.PoissonClassifier; graphvar.nn.VGPN; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_every_public_name_is_importable():
    import graphvar

    for name in graphvar.__all__:
        assert getattr(graphvar, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        graphvar.nope  # noqa: B018


def test_more_lines_than_colours_get_line_styles():
    styles = line_styles(16, ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"])
    looks = {(s["color"], s["linestyle"], s["marker"]) for s in styles}
    assert len(looks) == 16  # 16 variants of graphvar bench, 10 colours: all distinguishable
    assert {s["linestyle"] for s in styles[:10]} == {"-"} and {s["linestyle"] for s in styles[10:]} == {"--"}


def test_plot_with_sixteen_methods(tmp_path):
    pytest.importorskip("matplotlib")
    from graphvar.benchmark.report import plot_accuracy

    names = [f"m{i}" for i in range(16)]
    record = {"dataset": "toy", "config": {}, "results": [
        {"method": m, "rate": r, "accuracy": [50.0 + i + r, 51.0 + i + r], "seconds": [0.1, 0.1]}
        for i, m in enumerate(names) for r in (1, 2)]}
    import matplotlib.pyplot as plt

    saved = []
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):
        saved.append([(c.lines[0].get_color(), c.lines[0].get_linestyle(), c.lines[0].get_marker())
                      for c in fig.axes[0].containers])
        return original(fig, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        plot_accuracy(record, tmp_path / "p.png")
    finally:
        plt.Figure.savefig = original
    assert (tmp_path / "p.png").stat().st_size > 0
    assert len(saved[0]) == 16 and len(set(saved[0])) == 16


def test_bench_priors_auto_skips_the_full_citation_graph(capsys):
    import argparse

    from graphvar.cli.bench import _priors

    args = argparse.Namespace(priors="auto", lcc=False, dataset="cora")
    assert _priors(args, "citation") == "off"
    assert "class priors skipped" in capsys.readouterr().err
    assert _priors(argparse.Namespace(priors="auto", lcc=True, dataset="cora"), "citation") == "both"
    assert _priors(argparse.Namespace(priors="auto", lcc=False, dataset="digits"), "knn") == "both"
    assert _priors(argparse.Namespace(priors="on", lcc=False, dataset="cora"), "citation") == "on"
