"""Property test: whatever the shapes, dtypes and labels, fit + predict ends,
returns known labels, and raises only documented exception types."""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from admm_sklearn import ADMMClassifier  # noqa: E402

DOCUMENTED = (ValueError, TypeError, FloatingPointError)
LABEL_SETS = [[0, 1], [-1, 1], ["a", "b", "c"], [True, False], [2, 9, 40, 41]]


@st.composite
def problems(draw):
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32]))
    scale = draw(st.sampled_from([1e-8, 1.0, 1e3, 1e8]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * scale).astype(dtype) if dtype != np.int32 else \
        rng.integers(-5, 5, (n, d)).astype(dtype)
    labels = draw(st.sampled_from(LABEL_SETS))
    y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[
        rng.integers(0, len(labels), n)]
    hidden = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=2)))
    params = dict(hidden_layer_sizes=hidden, max_iter=draw(st.integers(1, 8)),
                  n_warmup_iter=draw(st.integers(0, 3)),
                  init=draw(st.sampled_from(["forward", "gaussian"])),
                  alpha=draw(st.sampled_from([0.0, 1e-3])),
                  dtype=draw(st.sampled_from(["float32", "float64"])), random_state=0)
    return X, y, params


# float16 casts of 1e8-scaled draws overflow to inf on purpose (they must be
# refused cleanly); NumPy's overflow warnings about that are expected.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_fit_predict_never_returns_unknown_labels_or_undocumented_errors(problem):
    X, y, params = problem
    clf = ADMMClassifier(**params)
    try:
        clf.fit(X, y)
    except DOCUMENTED:
        return
    pred = clf.predict(X)
    assert len(pred) == len(X)
    assert set(pred.tolist()) <= set(clf.classes_.tolist())
    assert np.all(np.isfinite(clf.decision_function(X)))
