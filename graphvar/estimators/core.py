"""The classifiers of the core solvers: Laplace, Poisson and their variance-enlarged versions."""

from __future__ import annotations

from ..solvers import laplace, poisson
from ._base import GraphSSLClassifier

__all__ = ["LaplaceClassifier", "PoissonClassifier", "VLaplaceClassifier", "VPoissonClassifier"]


class LaplaceClassifier(GraphSSLClassifier):
    """Laplace learning classifier (Zhu, Ghahramani, Lafferty 2003): harmonic extension of the labels.

    Solver: :func:`graphvar.laplace` (``amplification > 0`` gives V-Laplace).
    Parameters and attributes: see :class:`GraphSSLClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from graphvar import LaplaceClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> labels = np.full_like(y, -1); labels[:50] = y[:50]
    >>> clf = LaplaceClassifier(k=10).fit(X / 16, labels)
    >>> clf.transduction_.shape
    (1797,)
    """

    _solver = staticmethod(laplace)
    _default_amplification = 0.0


class PoissonClassifier(GraphSSLClassifier):
    """Poisson learning classifier (Calder, Cook, Thorpe, Slepčev, ICML 2020).

    Solver: :func:`graphvar.poisson` (``amplification > 0`` gives V-Poisson).
    Poisson does not clamp the labeled samples: a labeled sample's
    ``transduction_`` can, rarely, differ from its label. Parameters and
    attributes: see :class:`GraphSSLClassifier`.
    """

    _solver = staticmethod(poisson)
    _default_amplification = 0.0


class VLaplaceClassifier(GraphSSLClassifier):
    """Variance-enlarged Laplace classifier (docs/design.md §3): amplification 1 by default.

    Solver: :func:`graphvar.laplace` with the variance step (:func:`graphvar.vlaplace`).
    Parameters and attributes: see :class:`GraphSSLClassifier`.
    """

    _solver = staticmethod(laplace)
    _default_amplification = 1.0


class VPoissonClassifier(GraphSSLClassifier):
    """Variance-enlarged Poisson classifier (docs/design.md §3): amplification 1 by default.

    Solver: :func:`graphvar.poisson` with the variance step (:func:`graphvar.vpoisson`).
    Parameters and attributes: see :class:`GraphSSLClassifier`.
    """

    _solver = staticmethod(poisson)
    _default_amplification = 1.0
