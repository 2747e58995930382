import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

# Scripts launched under mpiexec by test_mpi.py: running them on import
# (as --doctest-modules would) is not a test.
collect_ignore = ["mpi_scripts"]


@pytest.fixture(autouse=True)
def _quiet_convergence():
    # Short fits are the point of most tests; a test that cares asserts it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
