"""The classifiers of the MBO family: PoissonMBO, V-PoissonMBO, multiclass and modularity MBO (docs/mbo.md)."""

from __future__ import annotations

import numpy as np

from ..solvers.mbo import VPOISSON_MBO_AMPLIFICATION, poisson_mbo, vpoisson_mbo
from ..solvers.mbo_spectral import modularity_mbo, multiclass_mbo
from ..solvers.mbo_volume import volume_mbo
from ._base import GraphSSLClassifier

__all__ = ["PoissonMBOClassifier", "VPoissonMBOClassifier", "VolumeMBOClassifier", "MulticlassMBOClassifier",
           "ModularityMBOClassifier"]


class PoissonMBOClassifier(GraphSSLClassifier):
    """PoissonMBO classifier (Calder, Cook, Thorpe, Slepčev, ICML 2020): Poisson, then volume-constrained MBO.

    Solver: :func:`graphvar.poisson_mbo`. The class priors are part of the method: ``class_priors``
    (in ``classes_`` order) are the class fractions the predictions keep;
    ``None`` or ``"labeled"`` estimates them from the labeled samples (``None``
    with a warning). ``method``, ``normalize``, ``min_iter`` and ``max_iter``
    do not apply; MBO options (``n_outer``, ``n_inner``, ``mu``, ``init``,
    ``projection``) go in ``solver_params``. Other parameters and attributes:
    see :class:`GraphSSLClassifier`; ``class_weights_`` holds the projection's
    final class weights.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from graphvar import PoissonMBOClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> labels = np.full_like(y, -1); labels[:50] = y[:50]
    >>> clf = PoissonMBOClassifier(class_priors=np.bincount(y) / y.size).fit(X / 16, labels)
    >>> clf.transduction_.shape
    (1797,)
    """

    _solver = staticmethod(poisson_mbo)
    _default_amplification = 0.0

    def _solver_kwargs(self) -> dict:
        amp = self._default_amplification if self.amplification is None else float(self.amplification)
        priors = self.class_priors
        if isinstance(priors, str):
            if priors != "labeled":
                raise ValueError(f"class_priors must be None, 'labeled' or an array of {len(self.classes_)} "
                                 f"class fractions (in classes_ order), got {priors!r}.")
            priors = np.bincount(self._codes[self._codes >= 0], minlength=len(self.classes_))
        return {"amplification": amp, "class_priors": priors, "progress": self.progress,
                **(self.solver_params or {})}

    def _fit_on_graph(self, graph, codes: np.ndarray):
        self._codes = codes
        try:
            return super()._fit_on_graph(graph, codes)
        finally:
            del self._codes

    def _balance(self, S: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The solver already kept the priors: record its class weights, leave the scores."""
        self.class_weights_ = np.asarray(self.solver_info_["class_weights"])
        return S


class VPoissonMBOClassifier(PoissonMBOClassifier):
    """V-PoissonMBO classifier: PoissonMBO started from balanced V-Poisson (docs/mbo.md §3).

    Solver: :func:`graphvar.vpoisson_mbo`; default amplification and heat
    steps per MBO iteration (80; ``solver_params={"n_inner": ...}`` changes
    it) those of :func:`graphvar.vpoisson_mbo`. Parameters and attributes:
    see :class:`PoissonMBOClassifier`.
    """

    _solver = staticmethod(vpoisson_mbo)
    _default_amplification = VPOISSON_MBO_AMPLIFICATION


class VolumeMBOClassifier(PoissonMBOClassifier):
    """Volume MBO classifier (Jacobs, Merkurjev, Esedoḡlu, J. Comput. Phys. 2018): auction dynamics.

    Solver: :func:`graphvar.volume_mbo`; ``class_priors`` as in
    :class:`PoissonMBOClassifier`; its options (``temperature``,
    ``volume_constraint``, ``n_iter``, ``random_state``) go in ``solver_params``;
    ``amplification`` does not apply.
    """

    _solver = staticmethod(volume_mbo)

    def _solver_kwargs(self) -> dict:
        kwargs = super()._solver_kwargs()
        kwargs.pop("amplification")
        kwargs.pop("progress")
        return kwargs

    def _balance(self, S: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The solver already kept the priors (within its volume bounds); no class weights."""
        self.class_weights_ = None
        return S


class _SpectralMBOClassifier(GraphSSLClassifier):
    """Base of the spectral MBO classifiers: options in ``solver_params``, no class priors."""

    def _solver_kwargs(self) -> dict:
        return dict(self.solver_params or {})

    def _balance(self, S: np.ndarray, codes: np.ndarray) -> np.ndarray:
        raise ValueError(f"{type(self).__name__} does not use class_priors (its thresholding has no volume "
                         "constraint); leave class_priors=None, or use PoissonMBOClassifier.")


class MulticlassMBOClassifier(_SpectralMBOClassifier):
    """Multiclass MBO classifier (Garcia-Cardona et al., IEEE TPAMI 2014).

    Solver: :func:`graphvar.multiclass_mbo`; its options (``n_outer``,
    ``n_inner``, ``dt``, ``mu``, ``n_eig``, ``random_state``) go in
    ``solver_params``. ``method``, ``amplification``, ``normalize``,
    ``min_iter``, ``max_iter`` and ``class_priors`` do not apply. Other
    parameters and attributes: see :class:`GraphSSLClassifier`.
    """

    _solver = staticmethod(multiclass_mbo)


class ModularityMBOClassifier(_SpectralMBOClassifier):
    """Modularity MBO classifier (Boyd, Bae, Tai, Bertozzi, SIAM J. Appl. Math. 2018).

    Solver: :func:`graphvar.modularity_mbo`; its options (``gamma``,
    ``epsilon``, ``lamb``, ``n_outer``, ``n_inner``) go in ``solver_params``.
    Parameters and attributes otherwise as :class:`MulticlassMBOClassifier`.
    """

    _solver = staticmethod(modularity_mbo)
