"""The scikit-learn estimator contract."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from admm_sklearn import ADMMClassifier


@parametrize_with_checks([ADMMClassifier(random_state=0),
                          ADMMClassifier((8, 6), backend="joblib", n_jobs=2,
                                         dtype="float32", random_state=0),
                          ADMMClassifier(loss="log_loss", random_state=0)])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)
