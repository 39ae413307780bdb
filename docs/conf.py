"""Sphinx configuration: the documentation site (``make docs``, Read the Docs).

The guides are the Markdown pages of this folder; the pages include
SECURITY.md, CONTRIBUTING.md, CHANGES.rst and bench/README.md rather than
copy them, and the API reference is generated from the docstrings. No
intersphinx: the build needs no network. It needs only the ``docs`` extra
and the package: the optional libraries (Redis, SQLAlchemy, PyJWT, ...)
are not imported to document the names that use them.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib import metadata
from typing import Any

import click
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

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

# `(page.md#heading)` links: to a heading by its slug, as GitHub makes them.
myst_heading_anchors = 3

# The optional libraries some modules import (the extras, and pytest for the
# pytest plugin): stood in for when missing, as with only the `docs` extra
# on Read the Docs; a build where they are installed documents the real ones.
autodoc_mock_imports = [
    name
    for name in ("sqlalchemy", "redis", "cachelib", "jwt", "cryptography", "pytest")
    if importlib.util.find_spec(name) is None
]

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


class ClickHelp(SphinxDirective):
    """``.. click-help:: module:group [command]``: a command's ``--help``, as
    the code has it, so the reference cannot drift from the command."""

    required_arguments = 1
    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        module, _, name = self.arguments[0].partition(":")
        group = getattr(importlib.import_module(module), name)
        command = group.commands[self.arguments[1]] if len(self.arguments) > 1 else group
        path = " ".join(["flask", group.name, *self.arguments[1:]])
        with click.Context(command, info_name=path, terminal_width=88, max_content_width=88) as ctx:
            text = command.get_help(ctx)
        return [nodes.literal_block(text, text, language="text")]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("click-help", ClickHelp)
    return {"parallel_read_safe": True}
