"""The documentation runs: every ```python block of README.md and docs/*.md, and the doctests of metaxy/.

A page's blocks run in order in one namespace (a later block may use what an earlier one defined), in
an empty working directory, inside a fresh feature graph. A block that cannot run here (it needs a
server or a cloud bucket) is preceded by a line ``<!-- not-run: <why> -->``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import metaxy
import metaxy as mx

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
BLOCK = re.compile(r"(?P<marker><!-- not-run: [^>]+-->\n)?```python\n(?P<code>.*?)```", re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str | None]]:
    """(line number, code) per ```python block; code is None for a block marked not-run."""
    return [
        (text.count("\n", 0, m.start("code")) + 1, None if m.group("marker") else m.group("code"))
        for m in BLOCK.finditer(text)
    ]


def test_python_blocks_are_found_and_markers_skip_them() -> None:
    text = "a\n```python\nx = 1\n```\n<!-- not-run: needs S3 -->\n```python\ny = 2\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (7, None)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_python_blocks_of_a_page_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    with mx.FeatureGraph().use():
        for line, code in python_blocks(page.read_text()):
            if code is None:
                continue
            try:
                exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(
                    f"{page.relative_to(REPO)}, block at line {line} failed: {exc!r}"
                ) from exc


def _modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(metaxy.__path__, "metaxy.")
        if m.name not in ("metaxy.cli.__main__", "metaxy.ext")  # ext only raises (0.1.x imports)
    )


@pytest.mark.parametrize("name", _modules())
def test_the_doctests_of_a_module_pass(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an optional driver that is not installed
        pytest.skip(f"{name} needs an optional dependency: {exc}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with mx.FeatureGraph().use():
        for test in finder.find(module, name):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name} (see the output above)"


OUTSIDE = re.compile(r"DESIGN(\.md| §)|\.\./shared|/work/shared")


def test_nothing_in_the_repository_cites_documents_outside_it() -> None:
    """Docs, code, tests, scripts and the Makefile cite only what the repository holds."""
    roots = ["README.md", "Makefile", "pyproject.toml", "docs", "metaxy", "tests", "benchmarks", "examples"]
    files = [p for r in roots for p in ([REPO / r] if (REPO / r).is_file() else (REPO / r).rglob("*"))]
    cited = [
        f"{p.relative_to(REPO)}:{i}"
        for p in files
        if p.is_file() and p.suffix in {".py", ".md", ".toml", ".ipynb", ""} and p != Path(__file__)
        for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert cited == []


LINK = re.compile(r"\]\((?P<path>[^)#\s:]+\.md)(?:#(?P<anchor>[^)\s]+))?\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_between_pages_point_at_existing_pages_and_headings(page: Path) -> None:
    broken = []
    for m in LINK.finditer(page.read_text()):
        target = (page.parent / m.group("path")).resolve()
        if not target.is_file():
            broken.append(m.group(0))
        elif m.group("anchor"):
            headings = re.findall(r"^#+ (.+)$", target.read_text(), re.MULTILINE)
            if m.group("anchor") not in {slug(h) for h in headings}:
                broken.append(m.group(0))
    assert broken == []
