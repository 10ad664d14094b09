"""MathJax 3 shipped with the site, so the mathematics renders without network access.

The MathJax 3 files come from the ``sphinx-mathjax-offline`` wheel (a copy of MathJax 3.2.2); only
the TeX-to-CHTML component and its web fonts are copied, into ``_static/mathjax/``, and
``mathjax_path`` points there.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

COMPONENT = "tex-chtml.js"
FONTS = Path("output") / "chtml" / "fonts" / "woff-v2"


def mathjax_folder() -> Path:
    """The installed MathJax 3 folder."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError("MathJax 3 is not installed: pip install -e \".[docs]\" (sphinx-mathjax-offline)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"
    if not (folder / COMPONENT).is_file():
        raise ExtensionError(f"{folder / COMPONENT} is missing; reinstall sphinx-mathjax-offline")
    return folder


def copy_mathjax(app, exc):
    """Copy the component and its fonts next to the built pages."""
    if exc is not None or app.builder.format != "html":
        return
    source, target = mathjax_folder(), Path(app.outdir) / "_static" / "mathjax"
    (target / FONTS).mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / COMPONENT, target / COMPONENT)
    for font in (source / FONTS).iterdir():
        shutil.copy2(font, target / FONTS / font.name)


def setup(app):
    mathjax_folder()
    app.config.mathjax_path = f"mathjax/{COMPONENT}"
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
