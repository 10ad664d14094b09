"""Each test file as a page of the site, with an anchor per line (``#L-12``) and per test (``#test_name``).

The role ``{gradmath-test}`shown <tests/test_x.py::test_name>``` links to it. The pages are made by
the HTML builder (``html-collect-pages``, as ``sphinx.ext.viewcode`` makes its source pages), so
nothing is copied into the source tree.
"""

from __future__ import annotations

import ast
from pathlib import Path

from docutils import nodes
from sphinx.util.nodes import split_explicit_title
from sphinx.util.osutil import relative_uri

FOLDER = "tests"


def page_name(path: str) -> str:
    """``tests/test_chain.py`` → the page ``tests/test_chain``."""
    return f"{FOLDER}/{Path(path).stem}"


def test_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """The link from a proof to a test (or a test file) in the site."""
    _, title, target = split_explicit_title(text)
    path, _, func = target.partition("::")
    env = inliner.document.settings.env
    uri = relative_uri(env.app.builder.get_target_uri(env.docname), page_name(path) + ".html")
    node = nodes.reference(rawtext, "", refuri=uri + (f"#{func}" if func else ""), internal=True,
                           classes=["gradmath-test"])
    node += nodes.literal(title, title)
    return [node], []


def render(path: Path) -> str:
    """The HTML of one test file: highlighted, numbered lines, an anchor per test function and class."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    text = path.read_text(encoding="utf-8")
    starts: dict[int, list[str]] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            starts.setdefault(first, []).append(node.name)
    html = highlight(text, PythonLexer(), HtmlFormatter(lineanchors="L", linenos="inline", anchorlinenos=True))
    for line, names in starts.items():
        anchor = f'<a id="L-{line}" name="L-{line}"></a>'
        html = html.replace(anchor, "".join(f'<span id="{n}"></span>' for n in names) + anchor, 1)
    return html


def collect_pages(app):
    """One page per ``tests/test_*.py``."""
    if app.builder.format != "html":
        return
    root = Path(app.config.gradmath_root)
    for path in sorted((root / FOLDER).glob("test_*.py")):
        rel = path.relative_to(root).as_posix()
        body = f"<h1><code>{rel}</code></h1>\n" + render(path)
        yield page_name(rel), {"title": rel, "body": body, "parents": []}, "page.html"
