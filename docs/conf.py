"""Sphinx configuration of gradmath's site: ``sphinx-build -W -n docs OUT`` after ``pip install -e ".[docs]"``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

import gradmath  # noqa: E402

project = "gradmath"
author = "the gradmath authors"
copyright = "gradmath authors"
version = release = gradmath.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_proof",
    "sphinxcontrib.bibtex",
    "gradmath_site",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]
suppress_warnings = ["myst.header"]  # generated tables start at ### under the page's own headings
gradmath_root = str(HERE.parent)

# What `gradmath reproduce` writes for each proof (docs/generated/…), included at the end of its page.
gradmath_proof_generated = {
    "chain-product": ["derivations/nielsen-122.md"],
    "matrix-form": ["derivations/matrix-2-3-2.md"],
    "gamma": ["gamma.md"],
    "window": ["window/derivations.md", "window/table.md", "window/maximum.md"],
    "tanh-relation": ["window/table.md"],
    "exploding": ["window/exploding.md"],
    "identity-neuron": ["window/identity.md"],
    "induced-norm-bounds": ["verification/verification.md"],
    "dual-norm-correction": ["verification/counterexample.md"],
    "meanfield": ["meanfield/points.md", "meanfield/critical.md"],
}

# MyST: $…$ and $$…$$ mathematics, ::: fences for the theorem blocks, anchors for ## headings.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# Numbered statements: "Theorem 3.2" is the second statement of the third proof. Theorems, lemmas,
# corollaries and propositions share one counter, as the proofs number them.
numfig = True
numfig_secnum_depth = 1
prf_realtyp_to_countertyp = {
    "theorem": "theorem", "lemma": "theorem", "corollary": "theorem", "proposition": "theorem",
    "definition": "definition",
}

# API reference from the numpydoc docstrings.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_class_members_toctree = False

bibtex_bibfiles = ["references.bib"]
# Author–year mentions in proofs/ and docs/ that become citations of docs/references.bib.
gradmath_citations = {
    "Poole et al. 2016": "poole2016",
    "Schoenholz et al. 2017": "schoenholz2017",
    "Hanin 2018": "hanin2018",
    "Williams 1998": "williams1998",
    "Cho and Saul 2009": "cho2009",
    "Higham": "higham2002",
}
bibtex_default_style = "plain"
bibtex_cite_id = "cite-{key}"  # stable anchors: bibliography.html#cite-poole2016
bibtex_reference_style = "author_year"

# Offline: MathJax 3 is copied into _static/mathjax by gradmath_mathjax; no CDN.
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "alabaster"
html_title = "gradmath"
html_static_path = ["_static"]
html_css_files = ["gradmath.css"]
html_copy_source = False
html_show_sourcelink = False
