"""The API reference: numpydoc docstrings read as written, references resolved the way a reader means them.

- ``|w|`` in a docstring is an absolute value, not a reStructuredText substitution: bars outside code,
  doctests and literal blocks are escaped before the docstring is parsed.
- ``:class:`Network``` written in another module finds the one documented object of that name.
- A reference to a module of gradmath that the reference does not document (an internal one), or to
  a name of another library (no network, so no intersphinx), is shown as code without a link.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util.nodes import make_refnode

_CODE = re.compile(r"(``.*?``|:\w+:`[^`]*`|`[^`]*`)")
EXTERNAL = ("numpy", "np", "scipy", "sympy", "mpmath", "torch", "sklearn", "safetensors", "skops", "matplotlib",
            "gmpy2", "ast", "argparse", "pathlib", "os", "typing", "collections", "dataclasses", "fractions",
            "hypothesis", "pytest", "dask", "distributed", "xarray", "zarr", "pandas", "lightning", "tensorboard",
            "jax")


def _escape_bars(line: str) -> str:
    parts = _CODE.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|") for i, p in enumerate(parts))


def escape_docstring(app, what, name, obj, options, lines):
    """Escape the bars of |x| in prose, leaving code, doctests, literal blocks and tables as they are.

    A section heading in a module's docstring (``Examples`` over ``--------``) becomes a rubric, so the
    reference's pages hold no duplicate section labels.
    """
    if what == "module":
        for i in range(len(lines) - 1):
            if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip()) and not lines[i].startswith(" "):
                lines[i], lines[i + 1] = f".. rubric:: {lines[i].strip()}", ""
    literal_indent = None
    in_doctest = False
    for i, line in enumerate(lines):
        stripped, indent = line.strip(), len(line) - len(line.lstrip())
        if literal_indent is not None:
            if stripped and indent <= literal_indent:
                literal_indent = None
            else:
                continue
        if stripped.startswith(">>>"):
            in_doctest = True
        if in_doctest:
            if not stripped:
                in_doctest = False
            continue
        if stripped.startswith(("| ", "+-", "+=")):
            continue
        lines[i] = _escape_bars(line)
        if stripped.endswith("::"):
            literal_indent = indent


def resolve_loosely(app, env, node, contnode):
    """Resolve an unqualified Python name to its one documented object; external names become plain code."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    if "." not in target:
        hits = [(name, obj) for name, obj in domain.objects.items()
                if name.endswith("." + target) and not obj.aliased]
        if hits:
            name, obj = max(hits, key=lambda hit: len(hit[0]))  # the defining module, not a re-export
            return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, name)
    root = target.lstrip("~.").split(".")[0]
    # Not in the reference: another library's name, or an internal name of gradmath (shown, not linked).
    if root in EXTERNAL or root == "gradmath" or "." not in target:
        return contnode if isinstance(contnode, nodes.literal) else nodes.literal(target, target)
    return None


def setup(app):
    app.connect("autodoc-process-docstring", escape_docstring, priority=400)
    app.connect("missing-reference", resolve_loosely)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
