"""Gradient-free training of neural networks by ADMM (Taylor et al., 2016).

The public surface is :class:`ADMMClassifier`; the backends that place the
data live in :mod:`admm_sklearn.backends`.
"""

from ._classifier import PAPER_SETTINGS, ADMMClassifier

__version__ = "0.1.0"
__all__ = ["ADMMClassifier", "PAPER_SETTINGS", "__version__"]
