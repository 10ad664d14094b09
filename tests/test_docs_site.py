"""The documentation site builds from docs/ with warnings as errors (-W -n), and what it shows is right.

One build per test session (``site`` below, into a temporary folder), then: every local link and
anchor of the built HTML resolves; nothing is fetched from the network (MathJax 3 ships with the
site); every proof is a page of numbered statements whose "Checked by" tests are links to their
source; every subcommand's help is there; the generated tables are included, not retyped; and a
real headless Chromium renders a proof page's mathematics. A copy of the sources with a proof
naming a missing test, a broken cross-reference and a stale generated file fails to build, with
one line naming each file.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROOFS = sorted(p for p in (ROOT / "proofs").glob("*.md") if p.name != "README.md")
BUILD_SECONDS = 600  # a hung build fails here; a normal one takes well under a minute


def _sphinx(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "-n", "-q", *extra, str(src), str(out),
                           "-d", str(out / ".doctrees")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=BUILD_SECONDS)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    result = _sphinx(ROOT / "docs", out)
    print(f"sphinx-build -W -n docs: {time.perf_counter() - start:.1f} s")
    assert result.returncode == 0, f"sphinx-build -W -n docs failed:\n{result.stdout}\n{result.stderr}"
    return out


class _Page(HTMLParser):
    """The ids, links and sources of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("script", "img") and attrs.get("src"):
            self.sources.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.sources.append(attrs["href"])


def _pages(site: Path) -> dict[Path, _Page]:
    pages = {}
    for path in site.rglob("*.html"):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path] = page
    return pages


def _text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", markup)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def test_every_local_link_and_anchor_resolves(site):
    pages = _pages(site)
    assert len(pages) > 40
    broken = []
    for path, page in pages.items():
        for href in page.links + page.sources:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc:
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.is_file():
                broken.append(f"{path.relative_to(site)}: {href} (no such file)")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in pages[target].ids:
                broken.append(f"{path.relative_to(site)}: {href} (no such anchor)")
    assert not broken, "\n".join(broken[:20])


def test_the_site_needs_no_network(site):
    for path, page in _pages(site).items():
        remote = [s for s in page.sources if urlsplit(s).scheme or s.startswith("//")]
        assert not remote, f"{path.relative_to(site)} loads {remote}"
    mathjax = site / "_static" / "mathjax" / "tex-chtml.js"
    assert mathjax.is_file() and mathjax.stat().st_size > 100_000
    assert any((site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    page = (site / "proofs" / "chain-product.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in page and "cdn" not in page.lower()


def _checked_by(proof: Path) -> list[tuple[str, str | None]]:
    """(test file, test name or None) for each test the proof names, in order."""
    section = re.split(r"(?im)^#+\s*checked by.*$", proof.read_text(encoding="utf-8"), maxsplit=1)[1]
    named, current = [], None
    for token in re.findall(r"`([^`]+)`", section):
        file_match = re.fullmatch(r"(tests/test_\w+\.py)(?:::(\w+))?", token)
        if file_match:
            current = file_match.group(1)
            named.append((current, file_match.group(2)))
        elif re.fullmatch(r"test_\w+", token) and current:
            named.append((current, token))
    return named


@pytest.mark.parametrize("proof", PROOFS, ids=lambda p: p.name)
def test_each_proof_is_a_page_of_numbered_statements_linked_to_its_tests(site, proof):
    page = site / "proofs" / f"{proof.stem}.html"
    markup = page.read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(markup)
    # The stable anchor of the proof's first statement is its file name; its number is "Theorem N.1" or so.
    assert proof.stem in parsed.ids or f"{proof.stem}-definition-1" in parsed.ids
    assert re.search(r"(Theorem|Definition|Lemma) \d+\.1\b", _text(markup))
    assert "class=\"proof" in markup
    for test_file, name in _checked_by(proof):
        href = f"../tests/{Path(test_file).stem}.html" + (f"#{name}" if name else "")
        assert f'href="{href}"' in markup, f"{page.name} has no link {href}"
    # The test's page shows its source with that anchor.
    for test_file, name in _checked_by(proof)[:3]:
        test_page = (site / "tests" / f"{Path(test_file).stem}.html").read_text(encoding="utf-8")
        assert name is None or (f'id="{name}"' in test_page and f"def</span><span class=\"w\"> </span>"
                                f"<span class=\"nf\">{name}</span>" in test_page)


def test_theorem_references_carry_the_site_numbers(site):
    text = _text((site / "proofs" / "meanfield.html").read_text(encoding="utf-8"))
    numbers = re.findall(r"(Theorem|Lemma) (\d+)\.(\d+)", text)
    # proofs/meanfield.md numbers theorems and lemmas in one sequence 1…7; the site keeps those numbers.
    assert {(kind, int(n)) for kind, _, n in numbers} >= {("Theorem", 1), ("Theorem", 2), ("Lemma", 3),
                                                          ("Lemma", 4), ("Theorem", 5), ("Theorem", 6),
                                                          ("Theorem", 7)}


def test_every_subcommand_help_comes_from_the_parser(site):
    from gradmath.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    markup = (site / "cli.html").read_text(encoding="utf-8")
    text = _text(markup)
    for name, subparser in sub.choices.items():
        assert f'id="cli-{name}"' in markup, name
        for option in (o for a in subparser._actions for o in a.option_strings):
            assert option in text, f"gradmath {name}: {option} missing from the reference"
        if subparser.epilog:
            assert subparser.epilog.strip().splitlines()[-1].split()[0] in text


def test_generated_tables_are_included_not_retyped(site):
    from gradmath.reports.embed import embedded_blocks

    for doc in sorted((ROOT / "docs").glob("*.md")):
        page = site / f"{doc.stem}.html"
        text = " ".join(_text(page.read_text(encoding="utf-8")).split())
        for block in embedded_blocks(doc.read_text(encoding="utf-8")):
            generated = (ROOT / "docs" / "generated" / block.name).read_text(encoding="utf-8")
            numbers = set(re.findall(r"(?<![\w.])\d+\.\d{3,}(?![\w.])", generated))
            missing = [n for n in numbers if n not in text]
            assert not missing, f"{page.name}: numbers of generated/{block.name} missing: {missing[:5]}"
    artifacts = (site / "artifacts.html").read_text(encoding="utf-8")
    for path in (ROOT / "docs" / "generated").rglob("*"):
        rel = path.relative_to(ROOT / "docs" / "generated").as_posix()
        if path.suffix == ".md":
            assert (site / "generated" / rel).with_suffix(".html").is_file(), rel
        elif path.is_file():
            assert f"docs/generated/{rel}" in _text(artifacts), rel


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_a_proof_page_renders_its_mathematics_in_headless_chromium(site, tmp_path):
    browser = _chromium()
    if browser is None and not os.environ.get("CI"):
        pytest.skip("no Chromium here (.ci/run installs it)")
    assert browser, "Chromium is missing: .ci/run installs it with apt-get"
    page = site / "proofs" / "chain-product.html"
    result = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--virtual-time-budget=10000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    dom = result.stdout
    assert result.returncode == 0 and "<body" in dom, result.stderr[-2000:]
    assert dom.count("<mjx-container") >= 2, "MathJax did not typeset the page"
    visible = _text(re.sub(r"(?is)<mjx-assistive-mml\b.*?</mjx-assistive-mml>", " ", dom))
    assert "$$" not in visible and "\\frac" not in visible and "\\begin" not in visible
    assert "Theorem 1.1" in visible and "Corollary 1.2" in visible
    assert 'href="../tests/test_chain.html#test_nielsen_122_at_depth_four"' in dom


def test_defects_fail_the_build_with_a_line_naming_the_file(tmp_path):
    """A proof naming a missing test, a broken cross-reference, a stale generated file: each is named."""
    shutil.copytree(ROOT / "proofs", tmp_path / "proofs")
    shutil.copytree(ROOT / "tests", tmp_path / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("conf.py", "references.bib", "bibliography.md", "activations.md"):
        shutil.copy(ROOT / "docs" / name, docs / name)
    shutil.copytree(ROOT / "docs" / "_ext", docs / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "docs" / "generated", docs / "generated")
    (docs / "index.md").write_text("# Site\n\n```{toctree}\nactivations\nproofs/index\nbroken\nbibliography\n"
                                   "artifacts\n```\n", encoding="utf-8")
    (docs / "artifacts.md").write_text("# Generated\n\n<!-- artifacts -->\n", encoding="utf-8")
    # 1. a proof naming a test that does not exist
    proof = tmp_path / "proofs" / "chain-product.md"
    proof.write_text(proof.read_text(encoding="utf-8").replace("- `tests/test_costs.py`", "- `tests/test_nowhere.py`"),
                     encoding="utf-8")
    # 2. a broken cross-reference, to a statement and to a page
    (docs / "broken.md").write_text("# Broken\n\nSee {prf:ref}`no-such-theorem` and [that](no-such-page.md).\n",
                                    encoding="utf-8")
    # 3. a generated table that no longer matches the page that embeds it
    gamma = docs / "generated" / "gamma.md"
    gamma.write_text(gamma.read_text(encoding="utf-8").replace("0.2500000000000000", "0.2500000000000001"),
                     encoding="utf-8")
    line = 1 + proof.read_text(encoding="utf-8").split("\n").index(
        next(x for x in proof.read_text(encoding="utf-8").split("\n") if "tests/test_nowhere.py" in x))
    result = _sphinx(docs, tmp_path / "out", "--keep-going")
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(rf"proofs/chain-product\.md:{line}: (WARNING|ERROR): chain-product\.md names tests/test_nowhere\.py,"
                     r" which does not exist", log), log
    assert re.search(r"broken\.md:\d+: (WARNING|ERROR): .*no-such-theorem", log), log
    assert re.search(r"broken\.md:\d+: (WARNING|ERROR): .*no-such-page", log), log
    assert re.search(r"activations\.md:\d+: (WARNING|ERROR): activations\.md: the block gamma\.md differs from "
                     r"docs/generated/gamma\.md \(stale\)", log), log


def _conf_value(name: str):
    import ast

    tree = ast.parse((ROOT / "docs" / "conf.py").read_text(encoding="utf-8"))
    (value,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in n.targets)]
    return ast.literal_eval(value)


def test_every_paper_cited_in_proofs_and_docs_is_in_the_bibliography(site):
    citations = _conf_value("gradmath_citations")
    bib = (ROOT / "docs" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"@\w+\{([\w-]+),", bib))
    assert set(citations.values()) <= keys
    assert {"nielsen2015", "milman-stackexchange"} <= keys
    mention = re.compile(r"\b([A-Z][a-z]+(?: et al\.| and [A-Z][a-z]+)?),? ((?:19|20)\d\d)\b")
    for path in [*PROOFS, *(ROOT / "docs").glob("*.md")]:
        for author, year in mention.findall(path.read_text(encoding="utf-8")):
            assert f"{author} {year}" in citations, f"{path.name} cites {author} {year}, not in docs/references.bib"
    page = (site / "proofs" / "meanfield.html").read_text(encoding="utf-8")
    for key in ("poole2016", "schoenholz2017", "hanin2018"):
        assert f'href="../bibliography.html#cite-{key}"' in page, key  # a stable anchor per reference
    bibliography = _text((site / "bibliography.html").read_text(encoding="utf-8"))
    assert "Neural Networks and Deep Learning" in bibliography and "Cross Validated" in bibliography


def _extension(name: str):
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import importlib

        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))


def test_a_proof_becomes_numbered_blocks_with_labels():
    proofs = _extension("gradmath_proofs")
    text = ("# T\n\n## Statement\n\nFor all x, P(x).\n\n**Corollary (c).** Q.\n\n## Proof\n\nBy Lemma 2. ∎\n\n"
            "## Lemma 2 (l)\n\nR.\n\n*Proof.* S. ∎\n\n## Checked by\n\n- `tests/test_chain.py`\n")
    rendered, labels = proofs.render_proof(text, "t")
    assert labels == ["t", "t-corollary-1", "t-lemma-2"]
    assert "::::{prf:theorem}\n:label: t\n" in rendered and "::::{prf:corollary} c\n:label: t-corollary-1" in rendered
    assert "::::{prf:lemma} l\n:label: t-lemma-2" in rendered and rendered.count("::::{prf:proof}") == 2
    assert "By {prf:ref}`t-lemma-2`" in proofs._refer_to_statements(rendered, "t", labels)


def test_a_new_docs_page_joins_the_guide(tmp_path):
    site_ext = _extension("gradmath_site")
    for name in ("a", "b", "new"):
        (tmp_path / f"{name}.md").write_text("# x\n", encoding="utf-8")
    index = "# I\n\n```{toctree}\n:caption: Guide\n\na\n```\n\n```{toctree}\n:caption: Reference\n\nb\n```\n"
    assert site_ext._guide_pages(index, tmp_path) == index.replace("\na\n```", "\na\nnew\n```", 1)
