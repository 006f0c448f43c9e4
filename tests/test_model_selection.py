"""Model selection on held-out labels: labeled_accuracy, labeled_scorer, LabeledKFold, score()."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.semi_supervised import LabelSpreading

from graphvar import PoissonClassifier
from graphvar.datasets import load_digits
from graphvar.model_selection import LabeledKFold, labeled_accuracy, labeled_scorer


def test_labeled_accuracy_ignores_unlabeled():
    y = np.array([0, 1, -1, -1, 1])
    assert labeled_accuracy(y, np.array([0, 0, 5, 5, 1])) == pytest.approx(2 / 3)
    assert labeled_accuracy(y, np.array([0, 1, 0, 0, 1]), sample_weight=[1, 3, 9, 9, 0]) == pytest.approx(1.0)
    ys = np.array(["a", None, "b", -1], dtype=object)
    assert labeled_accuracy(ys, np.array(["a", "a", None, "a"], dtype=object)) == 0.5  # None = uninformed miss
    with pytest.raises(ValueError, match="no labeled sample"):
        labeled_accuracy([-1, -1], [0, 1])
    with pytest.raises(ValueError, match="same length"):
        labeled_accuracy([0, 1], [0])


def test_labeled_kfold_deals_labels_and_keeps_unlabeled_in_training():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2] + [-1] * 11)
    cv = LabeledKFold(n_splits=3, random_state=1)
    tests = [t for _, t in cv.split(np.zeros((20, 1)), y)]
    assert cv.get_n_splits() == 3
    assert sorted(np.concatenate(tests).tolist()) == list(range(9))  # every label held out exactly once
    assert max(map(len, tests)) - min(map(len, tests)) <= 1
    for train, test in cv.split(np.zeros((20, 1)), y):
        assert set(range(9, 20)) <= set(train.tolist())  # unlabeled samples always train
        assert set(y[train][y[train] >= 0]) == {0, 1, 2}  # every class keeps a training label
    with pytest.raises(ValueError, match="single labeled sample"):
        list(LabeledKFold(2).split(np.zeros((4, 1)), [0, 1, 1, -1]))
    with pytest.raises(ValueError, match="n_splits"):
        LabeledKFold(1).get_n_splits()


def test_score_ignores_unlabeled_targets():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(8, 1, (30, 2))])
    y = np.full(60, -1)
    y[[0, 1, 30, 31]] = [0, 0, 1, 1]
    clf = PoissonClassifier(k=5).fit(X, y)
    assert clf.score(X, y) == 1.0  # the default ClassifierMixin.score gave 4/60
    assert labeled_scorer(clf, X, y) == 1.0
    # the scorer works for any classifier with predict, e.g. scikit-learn's LabelSpreading
    ls = LabelSpreading(kernel="knn", n_neighbors=5).fit(X, y)
    assert labeled_scorer(ls, X, y) == 1.0 and ls.score(X, y) < 0.1


@pytest.mark.slow
def test_grid_search_picks_a_sensible_k_on_digits():
    X, y = load_digits()
    rng = np.random.default_rng(0)
    lab = np.concatenate([rng.choice(np.flatnonzero(y == c), 4, replace=False) for c in range(10)])
    yl = np.full_like(y, -1)
    yl[lab] = y[lab]
    grid = [2, 5, 10, 20, 50, 150]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k=2 leaves components without labels: a warning per fit
        truth = {k: float((PoissonClassifier(k=k).fit(X, yl).transduction_ == y)[yl == -1].mean()) for k in grid}
        gs = GridSearchCV(PoissonClassifier(), {"k": grid}, cv=LabeledKFold(4, random_state=0)).fit(X, yl)
    scores = gs.cv_results_["mean_test_score"]
    assert gs.best_score_ > 0.8  # scored on held-out labels, not diluted by the -1 targets (was ~0.02)
    assert scores.max() - scores.min() > 0.05  # the scores separate the candidates
    assert truth[gs.best_params_["k"]] >= max(truth.values()) - 0.02, (gs.best_params_, truth)
