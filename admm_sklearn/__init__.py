"""Gradient-free training of neural networks by ADMM (Taylor et al., 2016).

The public surface is :class:`ADMMClassifier` and :class:`ADMMRegressor`, and
:func:`plan` to size a cluster run; the backends that place the data live in
:mod:`admm_sklearn.backends`.
"""

from ._classifier import PAPER_SETTINGS, ADMMClassifier
from ._plan import plan
from ._regressor import ADMMRegressor

__version__ = "0.1.0"
__all__ = ["ADMMClassifier", "ADMMRegressor", "PAPER_SETTINGS", "plan", "__version__"]
