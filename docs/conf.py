"""Sphinx configuration: ``python -m sphinx -W -b html docs docs/_build``."""

import os
import sys
from pathlib import Path

# Document (and run the gallery against) this checkout, installed or not;
# the gallery's example processes inherit the path through PYTHONPATH.
ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT)
os.environ["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")

import admm_sklearn  # noqa: E402

project = "admm-sklearn"
author = "the admm-sklearn developers"
copyright = "2026, the admm-sklearn developers"
version = release = admm_sklearn.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc",
              "sphinx_gallery.gen_gallery"]
exclude_patterns = ["_build", "screenshots"]
templates_path = ["_templates"]
html_static_path = ["_static"]
# pydata-sphinx-theme: the theme of scikit-learn's own documentation
html_theme = "pydata_sphinx_theme"
html_title = f"admm-sklearn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 5,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "changelog": [], "what_we_tried": ["sidebar-nav-bs"]}
# one page per public object (api.rst's autosummary tables)
autosummary_generate = True
numpydoc_show_class_members = False
# parameter types link to their pages (Backend, the estimators); numpy's and
# Python's glossary terms would need intersphinx inventories, which an
# offline build cannot fetch, so those names stay plain text
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "Backend": "admm_sklearn.backends.Backend",
    "array-like": "numpy.ndarray", "array_like": "numpy.ndarray", "bool": "bool",
    "sequence": "collections.abc.Sequence", "RandomState": "numpy.random.RandomState",
}
numpydoc_xref_ignore = {"of", "or", "shape", "default", "optional", "None", "in", "and",
                        "n_samples", "n_features", "n_classes", "n_outputs", "n_layers",
                        "fan_in", "fan_out", "instance", "list", "dict", "int", "float",
                        "str", "tuple", "ndarray", "callable", "object"}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "ignore_pattern": "mpi_fit",
    "download_all_examples": False,
    # the API pages list the examples that use each object
    "doc_module": ("admm_sklearn",),
    "backreferences_dir": "generated/backreferences",
}
