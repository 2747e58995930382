"""Sphinx configuration (``sphinx-build -W docs docs/_build``)."""

project = "admm-sklearn"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_numpy_docstring = True
exclude_patterns = ["_build"]
