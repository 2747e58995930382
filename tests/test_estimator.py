"""ADMMClassifier in scikit-learn workflows, and the accuracy it must reach."""

import pickle
import warnings

import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from admm_sklearn import PAPER_SETTINGS, ADMMClassifier, ADMMRegressor, _fit
from admm_sklearn.backends import SerialBackend


def _split(X, y):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_reaches_093_on_breast_cancer(seed):
    # speed is measured in benchmarks/, never asserted in unit tests
    X_tr, X_te, y_tr, y_te = _split(*load_breast_cancer(return_X_y=True))
    clf = ADMMClassifier(random_state=seed).fit(X_tr, y_tr)
    assert clf.score(X_te, y_te) >= 0.93


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_reaches_095_on_digits_0_vs_2(seed):
    X, y = load_digits(return_X_y=True)
    keep = (y == 0) | (y == 2)
    X_tr, X_te, y_tr, y_te = _split(X[keep], y[keep])
    assert ADMMClassifier(random_state=seed).fit(X_tr, y_tr).score(X_te, y_te) >= 0.95


def test_multiclass_digits_is_learned():
    X_tr, X_te, y_tr, y_te = _split(*load_digits(return_X_y=True))
    clf = ADMMClassifier(random_state=0).fit(X_tr, y_tr)
    assert clf.decision_function(X_te).shape == (len(X_te), 10)
    assert clf.score(X_te, y_te) >= 0.9


def test_pipeline_grid_search_and_cross_validation():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("admm", ADMMClassifier(max_iter=20,
                                                                         random_state=0))])
    search = GridSearchCV(pipe, {"admm__alpha": [1e-3, 1e-2],
                                 "admm__hidden_layer_sizes": [(10,), (20,)]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.9
    scores = cross_val_score(make_pipeline(StandardScaler(), ADMMClassifier(max_iter=20)),
                             X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_clone_and_pickle_preserve_model():
    X, y = make_moons(300, noise=0.2, random_state=0)
    clf = ADMMClassifier((16,), max_iter=30, random_state=0).fit(X, y)
    assert clone(clf).get_params() == clf.get_params()
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.decision_function(X), clf.decision_function(X))


def test_pickling_leaves_the_kept_warm_start_state_in_place():
    X, y = make_moons(300, noise=0.2, random_state=0)
    clf = ADMMClassifier((16,), max_iter=10, warm_start=True, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    # the copy leaves the per-sample state behind; the original keeps it
    assert getattr(restored, "_solver", None) is None
    assert clf._solver is not None and clf._solver_shards is not None
    clf.fit(X, y)
    assert clf.n_iter_ == 20  # resumed, not restarted from coefs_


def test_fitted_attributes_follow_mlpclassifier_layout():
    X, y = make_moons(200, noise=0.2, random_state=0)
    clf = ADMMClassifier((7, 5), max_iter=12, n_warmup_iter=4, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(2, 7), (7, 5), (5, 1)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (1,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 1
    # layer by layer (the default): max_iter sweeps, then half as many
    assert len(clf.loss_curve_) == clf.n_iter_ == 12 + 6
    assert set(clf.history_) >= {"objective", "loss", "residual", "seconds"}
    assert all(len(v) == 18 for v in clf.history_.values())


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_auto_beta_lets_one_output_update_reach_probability_07(n_classes):
    """beta='auto': the prox moves a logit at most 1 / (2 beta) from the
    network's, which must be the margin giving its class probability 0.7."""
    X, y = load_digits(n_class=n_classes, return_X_y=True)
    clf = ADMMClassifier((8,), max_iter=3, n_warmup_iter=1, random_state=0).fit(X, y)
    margin = 0.5 / clf.beta_
    if n_classes == 2:  # one logistic unit
        assert 1.0 / (1.0 + np.exp(-margin)) == pytest.approx(0.7)
    else:  # the true class's logit ahead of n_classes - 1 equal others
        assert np.exp(margin) / (np.exp(margin) + n_classes - 1) == pytest.approx(0.7)
    assert clf._solver is None and clf.get_params()["beta"] == "auto"
    assert ADMMClassifier(beta=0.25, max_iter=2).fit(X, y).beta_ == 0.25
    assert ADMMClassifier(loss="hinge", max_iter=2).fit(X, y).beta_ == 0.1


def test_binary_decision_function_is_centred_at_zero():
    X, y = make_moons(300, noise=0.2, random_state=0)
    clf = ADMMClassifier((16,), max_iter=20, random_state=0).fit(X, y)
    scores = clf.decision_function(X)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(scores > 0).astype(int)])


def test_paper_mode_runs_algorithm_1_as_published():
    X_tr, X_te, y_tr, y_te = _split(*load_breast_cancer(return_X_y=True))
    paper = ADMMClassifier(random_state=0, **PAPER_SETTINGS).fit(X_tr, y_tr)
    assert paper.score(X_te, y_te) > 0.9
    # the multiplier phase drives the output constraint residual down
    residual = paper.history_["residual"]
    assert residual[-1] < 0.1 * residual[paper.n_warmup_iter]


def test_float32_and_float64_fits_agree_closely():
    X, y = make_moons(400, noise=0.2, random_state=0)
    f64 = ADMMClassifier((16,), max_iter=15, dtype="float64", random_state=0).fit(X, y)
    f32 = ADMMClassifier((16,), max_iter=15, random_state=0).fit(X, y)  # the default
    # the fitted weights are float64 either way (the state is what differs)
    assert f32.coefs_[0].dtype == f64.coefs_[0].dtype == np.float64
    assert f32._solver is None and f32.loss_curve_ != f64.loss_curve_
    assert np.mean(f32.predict(X) == f64.predict(X)) > 0.97


def test_early_stopping_picks_the_sweep_of_lowest_validation_loss():
    X, y = make_moons(600, noise=0.3, random_state=0)
    clf = ADMMClassifier((32,), early_stopping=True, n_iter_no_change=20, max_iter=200,
                         random_state=0).fit(X, y)
    # scored every 10 sweeps after the 20 warm-up sweeps, never inside them
    scores = np.array(clf.history_["validation_score"])
    losses = np.array(clf.history_["validation_loss"])
    checked = np.flatnonzero(~np.isnan(losses)) + 1
    assert checked.min() > clf.n_warmup_iter and np.all(checked % 10 == 0)
    assert np.array_equal(np.isnan(scores), np.isnan(losses))
    assert len(clf.validation_scores_) == len(checked)
    # the validation loss chooses the number of sweeps; the score reported
    # is that network's
    best = checked[np.argmin(losses[checked - 1])]
    assert clf.n_iter_ == best and len(clf.loss_curve_) == best
    assert clf.best_validation_score_ == scores[best - 1]
    # the choosing run stopped once the lowest loss was n_iter_no_change
    # sweeps old, or at max_iter
    assert len(losses) - best >= 20 or len(losses) == 200


def test_early_stopping_returns_the_chosen_sweeps_on_all_training_rows():
    X, y = make_moons(600, noise=0.3, random_state=0)
    params = dict(hidden_layer_sizes=(32,), max_iter=200, dtype="float64", random_state=0)
    clf = ADMMClassifier(early_stopping=True, n_iter_no_change=20, **params).fit(X, y)
    assert 20 < clf.n_iter_ < 200
    # the network of a plain fit with that many sweeps on all 600 rows, the
    # held-out ones included
    plain = ADMMClassifier(**{**params, "max_iter": clf.n_iter_, "tol": None}).fit(X, y)
    for c, c0 in zip(clf.coefs_ + clf.intercepts_, plain.coefs_ + plain.intercepts_):
        np.testing.assert_allclose(c, c0, rtol=1e-10, atol=1e-12)
    F = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
    W, b = clf.coefs_[1][:, 0], clf.intercepts_[1][0]

    def relative_gradient(rows):
        # of the output refit's convex problem on ``rows``: summed logistic
        # loss plus beta * alpha * (number of rows) * ||W||^2
        residual = expit(F[rows] @ W + b) - y[rows]
        ridge = clf.beta_ * clf.alpha * len(rows)
        grad = np.r_[F[rows].T @ residual + 2.0 * ridge * W, residual.sum()]
        return np.linalg.norm(grad) / np.linalg.norm(F[rows].T @ np.abs(residual))

    # its output layer is optimal on all 600 rows, not on any 540
    assert relative_gradient(np.arange(600)) < 1e-4
    assert relative_gradient(np.arange(540)) > 1e-3


def test_early_stopping_reports_only_the_returned_fit_to_a_sweep_monitor():
    X, y = make_moons(600, noise=0.3, random_state=0)
    seen = []

    class Monitor:  # what time-to-accuracy curves hook into a fit
        def wants(self, sweep):
            return True

        def __call__(self, sweep, network):
            seen.append(sweep)

    clf = ADMMClassifier((16,), early_stopping=True, start_fraction=0.5, n_iter_no_change=20,
                         max_iter=100, random_state=0)
    clf._sweep_monitor = Monitor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    # the choosing run's sweeps, its subset start's included, are not the
    # network returned: only the final fit's reach the monitor
    assert seen == list(range(1, clf.n_iter_ + 1))


class _ScatterLog(SerialBackend):
    """The serial backend, recording the rows of every scatter."""

    def __init__(self, scattered=None):
        super().__init__()
        self.scattered = [] if scattered is None else scattered

    def _config(self):  # the fit's copy of the backend shares the record
        return {"scattered": self.scattered}

    def scatter(self, X, Y, dtype, sample_weight=None, shift=None):
        self.scattered.append((np.array(X), np.array(Y)))
        super().scatter(X, Y, dtype, sample_weight, shift)


def test_start_fraction_fits_a_random_subset_first_then_continues_on_all_rows():
    X, y = make_moons(800, noise=0.2, random_state=0)
    order = np.argsort(y, kind="stable")  # sorted labels: a head slice would be one class
    X, y = X[order], y[order]
    # no unit passes: the manual fit below would run them on the subset too
    params = dict(hidden_layer_sizes=(16,), max_iter=40, n_warmup_iter=5, tol=0.0,
                  dtype="float64", random_state=0, unit_refit_passes=0)
    log = _ScatterLog()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = ADMMClassifier(start_fraction=0.25, backend=log, **params).fit(X, y)
        (X_sub, Y_sub), (X_all, _) = log.scattered
        assert 150 < len(X_sub) < 250 and len(X_all) == 800
        assert 0.3 < Y_sub.mean() < 0.7  # random rows, both classes
        assert clf.n_iter_ == 40
        assert clf.history_["n_samples"] == [len(X_sub)] * 20 + [800] * 20
        # the same as fitting the subset for half the sweeps and then
        # warm-starting on all rows (a forward pass through its network)
        sub = np.flatnonzero((X[:, None, :] == X_sub[None]).all(axis=2).any(axis=1))
        manual = ADMMClassifier(warm_start=True, **{**params, "max_iter": 20})
        manual.fit(X[sub], y[sub]).fit(X, y)
    for c, c_ref in zip(clf.coefs_ + clf.intercepts_, manual.coefs_ + manual.intercepts_):
        np.testing.assert_allclose(c, c_ref, rtol=1e-7, atol=1e-9)


class _OffsetBackend(SerialBackend):
    """A serial backend that reports its rows as starting at global row ``offset``."""

    def __init__(self, offset):
        super().__init__()
        self.offset = offset

    def row_offset(self, n_local):
        return self.offset


@pytest.mark.parametrize("offset", [0, 1, 4_321])
def test_subset_rows_of_a_process_are_its_slice_of_the_serial_draw(offset):
    # A process whose rows start at global row `offset` must pick exactly
    # the rows a serial fit picks there, without drawing the rows before.
    est = ADMMClassifier(start_fraction=0.3)
    seed, n_local = 12345, 1_000
    serial = np.random.default_rng(seed).random(offset + n_local)[offset:] < 0.3
    fit = _fit._Fit(est, (4,), np.float64, _OffsetBackend(offset), None)
    np.testing.assert_array_equal(fit._subset_rows(n_local, 10**9, seed),
                                  np.flatnonzero(serial))


def test_start_fraction_auto_subsamples_only_large_sets():
    clf = ADMMClassifier()
    assert clf._resolved_start_fraction(199_999) == 1.0
    assert clf._resolved_start_fraction(200_000) == 1.0 / 8.0
    assert ADMMClassifier(start_fraction=0.5)._resolved_start_fraction(100) == 0.5
    assert ADMMClassifier(**PAPER_SETTINGS)._resolved_start_fraction(10**7) == 1.0


def test_convergence_warning_when_max_iter_too_small():
    X, y = make_moons(100, noise=0.2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        ADMMClassifier((8,), max_iter=3).fit(X, y)


def test_verbose_prints_one_line_per_sweep(capsys):
    X, y = make_moons(100, noise=0.2, random_state=0)
    ADMMClassifier((8,), max_iter=4, verbose=1).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Iteration")]
    assert len(lines) == 4 and "objective" in lines[0] and "residual" in lines[0]


def test_joblib_backend_equals_serial_through_the_estimator():
    X, y = make_moons(3000, noise=0.3, random_state=0)
    serial = ADMMClassifier((20,), max_iter=20, random_state=0, dtype="float64").fit(X, y)
    threads = ADMMClassifier((20,), max_iter=20, backend="joblib", n_jobs=2,
                             random_state=0, dtype="float64").fit(X, y)
    for c, c0 in zip(threads.coefs_ + threads.intercepts_, serial.coefs_ + serial.intercepts_):
        assert np.abs(c - c0).max() <= 1e-8 * np.abs(c0).max()


def test_log_loss_gives_probabilities_consistent_with_predict():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = _split(X[y < 3], y[y < 3])
    clf = ADMMClassifier((20,), loss="log_loss", max_iter=60, random_state=0).fit(X_tr, y_tr)
    proba = clf.predict_proba(X_te)
    assert proba.shape == (len(X_te), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_te))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_te)), proba)
    assert clf.score(X_te, y_te) >= 0.95
    # binary: one logistic unit, decision_function is its logit
    binary = ADMMClassifier((20,), loss="log_loss", max_iter=60, random_state=0).fit(
        X_tr[y_tr < 2], y_tr[y_tr < 2])
    proba = binary.predict_proba(X_te)
    assert proba.shape == (len(X_te), 2)
    np.testing.assert_array_equal(binary.decision_function(X_te) > 0, proba[:, 1] > 0.5)


def test_hinge_loss_has_no_predict_proba():
    assert not hasattr(ADMMClassifier(loss="hinge"), "predict_proba")
    assert hasattr(ADMMClassifier(), "predict_proba")
    with pytest.raises(AttributeError) as info:
        ADMMClassifier(loss="hinge").predict_proba
    # scikit-learn's available_if chains our explanation as the cause
    assert "CalibratedClassifierCV" in str(info.value.__cause__)


def test_probabilities_work_in_scoring_and_stacking():
    from sklearn.ensemble import StackingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    admm = make_pipeline(StandardScaler(), ADMMClassifier((16,), max_iter=60, random_state=0))
    scores = cross_val_score(admm, X, y, cv=3, scoring="neg_log_loss")
    assert np.all(np.isfinite(scores)) and np.all(scores < 0) and scores.mean() > -0.3
    stack = StackingClassifier([("admm", admm)], LogisticRegression(), cv=3,
                               stack_method="predict_proba").fit(X, y)
    assert stack.score(X, y) > 0.95


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_ridge_stops_growing_past_ridge_max_samples(estimator, monkeypatch):
    """Past ``_ridge_max_samples`` samples the fit is that of the per-sample
    ridge ``alpha * _ridge_max_samples / n``: the cap reaches both
    estimators' solver."""
    X, y = make_moons(400, noise=0.2, random_state=0)
    cls = ADMMClassifier if estimator == "classifier" else ADMMRegressor
    params = dict(hidden_layer_sizes=(8,), max_iter=30, dtype="float64", backend="serial",
                  random_state=0)
    monkeypatch.setattr(cls, "_ridge_max_samples", 100)
    capped = cls(alpha=0.05, **params).fit(X, y)
    monkeypatch.setattr(cls, "_ridge_max_samples", None)
    scaled = cls(alpha=0.05 * 100 / 400, **params).fit(X, y)
    full = cls(alpha=0.05, **params).fit(X, y)
    for W, W_scaled in zip(capped.coefs_ + capped.intercepts_,
                           scaled.coefs_ + scaled.intercepts_):
        np.testing.assert_allclose(W, W_scaled, rtol=1e-8, atol=1e-10)
    assert np.linalg.norm(full.coefs_[0]) < np.linalg.norm(capped.coefs_[0])


def test_multiclass_output_biases_are_centred_so_the_refit_is_unique():
    # the softmax ignores a common shift of the output biases, which the ridge
    # does not pin: the refit returns the zero-mean (least-norm) biases, so
    # that backends summing in another order end on the same network
    X, y = load_iris(return_X_y=True)
    clf = ADMMClassifier((8,), max_iter=30, random_state=0).fit(X, y)
    biases = clf.intercepts_[-1]
    assert abs(biases.sum()) <= 1e-12 * np.abs(biases).max()
