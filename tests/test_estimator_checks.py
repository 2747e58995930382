"""The scikit-learn estimator contract, sample-weight checks included."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from admm_sklearn import ADMMClassifier, ADMMRegressor


_SAMPLE_WEIGHT_CHECKS = ("check_sample_weight_equivalence_on_dense_data",
                         "check_sample_weight_equivalence_on_sparse_data")


def _expected_failures(estimator):
    if estimator.dtype == "float32":
        # The check compares weighted and repeated-row fits to rtol 1e-7:
        # in float32 state the two sum their Grams in a different order, and
        # the round-off (1e-7 relative per sum) compounds over 800 sweeps. The
        # float64 instances pass it; tests/test_sample_weight.py holds float64
        # fits to 1e-8 on every backend.
        return dict.fromkeys(_SAMPLE_WEIGHT_CHECKS,
                             "float32 round-off exceeds the check's 1e-7 tolerance")
    if isinstance(estimator, ADMMClassifier) and estimator.loss == "log_loss":
        # On the check's 3-class data the stopping rule ends both fits at
        # sweep 210, where they differed by 1.6e-7 relative on one of 45
        # outputs (1.6e-8 absolute; the same fits run to 800 sweeps pass).
        # Since the layer-1 solve takes its scales from a float64 moments
        # pass they pass (2026-12-03): the difference sits at the check's
        # tolerance and moves with the order of float sums, so the mark
        # stays (non-strict). tests/test_sample_weight.py holds float64
        # fits to 1e-8.
        return dict.fromkeys(_SAMPLE_WEIGHT_CHECKS,
                             "float64 round-off at the check's 1e-7 tolerance after 210 sweeps")
    return {}


@parametrize_with_checks([ADMMClassifier(random_state=0),
                          ADMMClassifier((8, 6), backend="joblib", n_jobs=2,
                                         dtype="float32", random_state=0),
                          ADMMClassifier(loss="hinge", random_state=0),
                          ADMMClassifier(dtype="float64", random_state=0),
                          ADMMRegressor(random_state=0),
                          ADMMRegressor(dtype="float64", random_state=0),
                          ADMMRegressor(hidden_layer_sizes=(8, 6), backend="joblib", n_jobs=2,
                                        dtype="float32", random_state=0)],
                         expected_failed_checks=_expected_failures)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
