"""``VGPNClassifier``: the V-GPN graph neural network as a scikit-learn estimator."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..base import decode_labels, encode_labels, knn_average
from ..graph.validation import check_features
from ..validation import check_bool, check_device, check_finite_output, check_float, check_int
from ._sparse import as_features
from .gpn import VGPN
from .poisson_conv import poisson_source
from .training import fit_transductive, seeded, stratified_split

__all__ = ["VGPNClassifier", "DEFAULT_AMPLIFICATION"]

#: Amplification used when ``amplification`` is not given: a = 2 beat a = 1
#: for V-Poisson on FashionMNIST (docs/design.md §3) and for V-GPN on Cora and CiteSeer at
#: 1 label per class (benchmarks/results/gnn_*.md).
DEFAULT_AMPLIFICATION = 2.0


class VGPNClassifier(ClassifierMixin, BaseEstimator):
    """Variance-enlarged graph Poisson network (V-GPN), transductive.

    Trains a :class:`~graphvar.nn.gpn.VGPN` (attention-weighted Poisson
    propagation of the labels plus a linear feature term, with the variance
    step ``alpha (u - ubar)``, ``alpha = amplification / n_steps``, in each of the
    ``n_steps`` propagation steps) by
    full-batch Adam on the labeled nodes. ``amplification=0`` is plain GPN.

    Labels follow ``sklearn.semi_supervised``: ``-1`` marks unlabeled nodes.

    Early stopping: unless ``val_idx`` is given to :meth:`fit_graph`, a
    stratified validation set of ``min(val_size, n_c // 2)`` nodes per class
    is carved from the labeled nodes (so at most ``val_size`` per class, and a
    class with one label keeps it for training). When nothing can be carved
    (one label per class, or ``val_size=0``) the model trains for exactly
    ``epochs`` epochs and keeps the last weights.

    Parameters
    ----------
    amplification : float, optional
        Total variance amplification ``a``; per step ``alpha = a / n_steps``.
        ``None``: ``DEFAULT_AMPLIFICATION`` (2).
    n_steps : int, default=10
        Propagation steps ``T``.
    hidden : int, default=64
        Width of the attention projection.
    dropout : float, default=0.8
        Dropout of input features and of the state after the feature term.
    feature_step : int or None, default=3
        Propagation steps left when the linear feature term is injected
        (``None``: no feature term).
    attention : bool, default=False
        Learn edge attention ``exp(LeakyReLU(a^T [W h_i || W h_j]))``. Off by
        default: on Cora at 1-2 labels per class (20 splits, amplification 2)
        learned attention cost 0.8-3.2 points against the fixed
        ``P = D^{-1} W`` (``benchmarks/results/gnn_cora_attention.md``).
    calibrate : bool, default=False
        Scale the Poisson source so that the untrained (uniform-attention)
        label term has unit standard deviation over the nodes, making the
        label term's size independent of the graph's degrees.
    lr, weight_decay : float, default=0.05, 1e-2
        Adam learning rate and L2 penalty (strong, as in CGPN: the feature
        term must not swamp the propagated labels at 1-5 labels per class).
    epochs : int, default=500
        Maximum number of epochs.
    patience : int or None, default=100
        Early-stopping patience in epochs (with validation nodes only).
    val_size : int, default=5
        Validation nodes carved per class from the labeled nodes (at most).
    k, kernel, metric, backend : k-NN graph options used by :meth:`fit`
        (see :func:`graphvar.graph.knn_graph`).
    device : str or torch.device, optional
        Where to train (default CPU).
    random_state : int, default=0
        Seeds weight initialisation, dropout and the validation split.
    progress : bool, default=False
        Show a progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray of shape (c,)
        Class labels.
    transduction_ : ndarray of shape (n,)
        Predicted label of every node of the training graph. Nodes in connected
        components without a training node are predicted from their features
        alone (the feature term); without the feature term (``feature_step=None``)
        they get ``-1`` (numeric classes) or ``None``, as in the graph classifiers.
    uninformed_ : ndarray of int
        Nodes in connected components without a training node (a warning names them).
    label_distributions_ : ndarray of shape (n, c)
        Softmax of the network's output.
    graph_ : graphvar.graph.Graph
        Graph the model was trained on.
    model_ : VGPN
        The trained network (eval mode, on ``device``).
    train_idx_, val_idx_ : ndarray of int
        Nodes trained on and used for early stopping (possibly empty).
    fit_info_ : dict
        Epochs run, best epoch, seconds, last training loss, best validation accuracy.
    """

    def __init__(
        self,
        *,
        amplification: float | None = None,
        n_steps: int = 10,
        hidden: int = 64,
        dropout: float = 0.8,
        feature_step: int | None = 3,
        attention: bool = False,
        calibrate: bool = False,
        lr: float = 0.05,
        weight_decay: float = 1e-2,
        epochs: int = 500,
        patience: int | None = 100,
        val_size: int = 5,
        k: int = 10,
        kernel: str = "gaussian",
        metric: str = "euclidean",
        backend: str = "auto",
        device=None,
        random_state: int = 0,
        progress: bool = False,
    ):
        self.amplification = amplification
        self.n_steps = n_steps
        self.hidden = hidden
        self.dropout = dropout
        self.feature_step = feature_step
        self.attention = attention
        self.calibrate = calibrate
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.patience = patience
        self.val_size = val_size
        self.k = k
        self.kernel = kernel
        self.metric = metric
        self.backend = backend
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------ validation
    def _amplification(self) -> float:
        if self.amplification is None:
            return DEFAULT_AMPLIFICATION
        return check_float(self.amplification, "amplification", minimum=0.0)

    def _check_params(self):
        for name in ("n_steps", "hidden", "epochs", "k"):
            check_int(getattr(self, name), name, minimum=1)
        if self.patience is not None:
            check_int(self.patience, "patience", minimum=1)
        check_int(self.val_size, "val_size", minimum=0)
        check_float(self.lr, "lr", minimum=0.0, strict_minimum=True)
        check_float(self.weight_decay, "weight_decay", minimum=0.0)
        check_float(self.dropout, "dropout", minimum=0.0, maximum=0.999)
        if self.feature_step is not None:
            check_int(self.feature_step, "feature_step", minimum=0, maximum=check_int(self.n_steps, "n_steps"))
        for name in ("attention", "calibrate", "progress"):
            check_bool(getattr(self, name), name)
        if self.feature_step is None and not self.attention:
            raise ValueError("feature_step=None with attention=False leaves V-GPN nothing to train (it is then "
                             "the V-Poisson iteration): set feature_step (default 3) or attention=True, or use "
                             "graphvar.VPoissonClassifier.")
        check_int(self.random_state, "random_state", minimum=0)

    def _split(self, codes: np.ndarray, classes: np.ndarray, val_idx) -> tuple[np.ndarray, np.ndarray]:
        """Training and early-stopping nodes: ``val_idx`` as given, else a stratified carve-out."""
        n = codes.shape[0]
        labeled = np.flatnonzero(codes >= 0)
        if val_idx is not None:
            val = np.unique(np.asarray(val_idx, dtype=np.int64))
            if val.size and (val.min() < 0 or val.max() >= n):
                raise ValueError(f"val_idx must index nodes 0..{n - 1}")
            if (codes[val] < 0).any():
                raise ValueError("every val_idx node needs its label in y (not -1)")
            train = np.setdiff1d(labeled, val)
        else:
            train, val = stratified_split(labeled, codes, self.val_size, self.random_state)
        missing = np.setdiff1d(np.arange(classes.size), codes[train])
        if missing.size:
            raise ValueError(f"classes {classes[missing].tolist()} have no training node left after "
                             "the validation split; lower val_size or pass fewer val_idx nodes")
        return train, val

    # -------------------------------------------------------------------- fit
    def fit(self, X, y):
        """Build a k-NN graph on ``X`` and fit on it (``y``: -1 = unlabeled)."""
        from ..graph import check_features, knn_graph

        X = check_features(X, allow_sparse=self.metric == "cosine")
        graph = knn_graph(X, k=self.k, kernel=self.kernel, metric=self.metric,
                          backend=self.backend, device=self.device)
        return self.fit_graph(graph, y, X=X)

    def fit_graph(self, graph, y, X=None, val_idx=None):
        """Fit on a given graph with node features.

        Parameters
        ----------
        graph : Graph, scipy sparse, torch_geometric Data or networkx graph
            Symmetric non-negative weights over the ``n`` nodes.
        y : array-like of int, shape (n,)
            Labels, ``-1`` for unlabeled nodes.
        X : array-like, scipy sparse or torch.Tensor of shape (n, d)
            Node features (required: attention and the feature term read them).
        val_idx : array-like of int, optional
            Labeled nodes reserved for early stopping (not trained on). When
            omitted, a stratified set is carved from the labels (``val_size``).

        Returns
        -------
        self
        """
        from ..graph import as_graph

        self._check_params()
        amplification = self._amplification()
        device = check_device(self.device)
        graph = as_graph(graph, device=device)
        n = graph.n_nodes
        if X is None:
            raise ValueError("V-GPN needs node features: call fit_graph(graph, y, X=features)")
        x = as_features(X, device=device)
        check_finite_output(x.values() if x.layout != torch.strided else x, "X as float32 features",
                            "X has values beyond float32 (3.4e38) or NaN; rescale it, e.g. X / abs(X).max().")
        if x.shape[0] != n:
            raise ValueError(f"X has {x.shape[0]} rows but the graph has {n} nodes")
        classes, codes = encode_labels(y, n)
        if classes.size < 2:
            raise ValueError(f"y has a single class ({classes[0]!r}); need at least two labeled classes.")
        train, val = self._split(codes, classes, val_idx)

        model, info, logits = self._train(graph, x, codes, classes.size, train, val, amplification, device)
        check_finite_output(logits, "V-GPN's outputs",
                            f"amplification={amplification:g} or lr={self.lr:g} is too large (the variance step or "
                            "training diverged); use amplification between 0 and ~4 and a smaller lr.")
        proba = torch.softmax(logits, dim=1).cpu().numpy()
        informed = self._informed(graph, train, proba)
        self.classes_ = classes
        self.graph_ = graph
        self.model_ = model
        self.train_idx_, self.val_idx_ = train, val
        self.amplification_ = amplification
        self.fit_info_ = info
        self.label_distributions_ = proba
        self.transduction_ = decode_labels(classes, proba.argmax(axis=1), informed)
        self.X_ = x
        self.n_features_in_ = x.shape[1]
        return self

    def _train(self, graph, x, codes, n_classes, train, val, amplification, device):
        """Build and train the network; return ``(model, training info, final logits)``."""
        n = graph.n_nodes
        pyg = graph.to_pyg()
        edge_index, edge_weight = pyg.edge_index.to(device), pyg.edge_weight.to(device=device,
                                                                                dtype=torch.float32)
        deg = graph.degrees.to(device=device, dtype=torch.float32)
        labels = torch.as_tensor(codes, device=device)
        train_t = torch.as_tensor(train, device=device)
        val_t = torch.as_tensor(val, device=device)
        source = poisson_source(labels, train_t, n, n_classes)
        with seeded(self.random_state):
            model = VGPN(x.shape[1], n_classes, hidden=self.hidden, n_steps=self.n_steps,
                         amplification=amplification, dropout=self.dropout,
                         feature_step=self.feature_step, attention=self.attention).to(device)
            if self.calibrate:
                model.conv.calibrate_source_scale(edge_index, source, edge_weight, deg)

            def forward():
                return model(x, edge_index, source, edge_weight, deg)

            info = fit_transductive(model, forward, labels, train_t, val_t, epochs=self.epochs,
                                    patience=self.patience, lr=self.lr, weight_decay=self.weight_decay,
                                    progress=self.progress, desc="V-GPN")
            with torch.no_grad():
                logits = forward()
        return model, info, logits

    def _informed(self, graph, train: np.ndarray, proba: np.ndarray) -> np.ndarray:
        """Nodes that receive information; sets ``uninformed_`` and warns about the others.

        Label propagation reaches only the connected components holding a
        training node. With the feature term (``feature_step`` not ``None``)
        the other nodes are still predicted, from their features alone; without
        it they get ``-1`` / ``None`` and a uniform distribution, as in the
        graph classifiers.
        """
        mask = np.zeros(graph.n_nodes, dtype=bool)
        mask[train] = True
        reached = graph.informed(mask)
        self.uninformed_ = np.flatnonzero(~reached)
        if not self.uninformed_.size:
            return reached
        shown = ", ".join(map(str, self.uninformed_[:10])) + (", ..." if self.uninformed_.size > 10 else "")
        if self.feature_step is None:
            proba[self.uninformed_] = 1.0 / proba.shape[1]
            outcome = "they get transduction_ -1 (None for non-numeric classes) and uniform probabilities"
        else:
            reached = np.ones_like(reached)
            outcome = "their predictions come from the feature term alone"
        warnings.warn(f"{self.uninformed_.size} node(s) lie in connected components with no training node "
                      f"(nodes {shown}): no label propagates to them; {outcome}. Label a node in each "
                      "component, or connect the graph.", UserWarning, stacklevel=3)
        return reached

    # ---------------------------------------------------------------- predict
    def predict_proba(self, X=None):
        """Class probabilities.

        ``X=None`` returns those of the training nodes (``label_distributions_``).
        New points are placed by their ``k`` nearest training nodes (Euclidean,
        Gaussian weights ``exp(-4 |x - x_j|^2 / d_k^2)``), averaging their
        probabilities.
        """
        check_is_fitted(self, "label_distributions_")
        if X is None:
            return self.label_distributions_
        Xq = check_features(X).to(torch.float32)
        if Xq.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {Xq.shape[1]} features; the model was fitted with {self.n_features_in_}")
        Xt = self.X_.to_dense() if self.X_.layout != torch.strided else self.X_
        return knn_average(Xq.numpy(), Xt.cpu().numpy(), self.label_distributions_, k=self.k,
                           kernel=self.kernel, metric=self.metric)

    def predict(self, X=None):
        """Predicted labels (``X=None``: the training nodes, as ``transduction_``).

        A new point whose ``k`` nearest training nodes are all uninformed
        (possible only without the feature term) gets ``-1`` / ``None``.
        """
        check_is_fitted(self, "transduction_")
        if X is None:
            return self.transduction_
        proba = self.predict_proba(X)
        informed = None
        if self.feature_step is None and self.uninformed_.size:
            flag = np.ones((self.label_distributions_.shape[0], 1))
            flag[self.uninformed_] = 0.0
            Xt = self.X_.to_dense() if self.X_.layout != torch.strided else self.X_
            Xq = check_features(X).to(torch.float32)
            informed = knn_average(Xq.numpy(), Xt.cpu().numpy(), flag, k=self.k, kernel=self.kernel,
                                   metric=self.metric)[:, 0] > 0
        return decode_labels(self.classes_, proba.argmax(axis=1), informed)
