"""Sphinx configuration: the documentation site (``make docs``).

The pages include README.md, SECURITY.md, CHANGES.rst and bench/README.md
rather than copy them, and the API reference is generated from the
docstrings. No intersphinx: the build needs no network.
"""

from __future__ import annotations

from importlib import metadata

import flask_adobe_oauth

# The package imports its Flask side on first use of a name; import every
# public name now, so autodoc finds them in the package's namespace.
for _name in flask_adobe_oauth.__all__:
    getattr(flask_adobe_oauth, _name)

project = "flask-adobe-oauth"
author = "the flask-adobe-oauth authors"
copyright = "the flask-adobe-oauth authors"
release = version = metadata.version("flask-adobe-oauth")

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]

# Warnings are errors in CI (sphinx-build -W); references to other projects'
# types (requests.Session, flask.Flask, ...) stay plain text.
nitpicky = False

# The README's `(#heading)` links: to a heading of the same page by its slug,
# to another page by a label such as `(real-adobe-locally)=`.
myst_heading_anchors = 3

autodoc_typehints = "description"
autodoc_typehints_description_target = "all"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
# Google-style "Args:" sections (make_adobe_blueprint).
napoleon_google_docstring = True
napoleon_numpy_docstring = False

autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = "flask-adobe-oauth"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
