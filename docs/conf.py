"""Sphinx configuration: ``python -m sphinx -W -b html docs docs/_build``."""

import os
import sys
from pathlib import Path

# Document (and run the gallery against) this checkout, installed or not;
# the gallery's example processes inherit the path through PYTHONPATH.
ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, ROOT)
os.environ["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")

project = "admm-sklearn"
extensions = ["sphinx.ext.autodoc", "numpydoc", "sphinx_gallery.gen_gallery"]
exclude_patterns = ["_build"]
numpydoc_show_class_members = False
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "ignore_pattern": "mpi_fit",
    "download_all_examples": False,
}
