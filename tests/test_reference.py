"""docs/reference.md is the reference the repository cites, and the only one.

(a) Every `docs/reference.md#anchor` cited in a tracked file — and the `#other` anchors that follow it
in a list such as `docs/reference.md#sla, #evaluation` — resolves to a heading or an explicit
`<a id="…">` anchor of docs/reference.md; so do the links of docs/*.md and README.md to
`reference.md#anchor` and the reference's own `(#anchor)` links.

(b) No tracked file points at a document outside the repository: a numbered section of a product
specification, its file, a shared folder next to the repository, a style guide that is not here.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "docs" / "reference.md"
THIS = Path(__file__).resolve().relative_to(REPO).as_posix()

#: directories never part of the repository's own files (when git is not there to say so)
_UNTRACKED = {".git", ".venv", ".venv-focus", "var", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}
_UNTRACKED_SUFFIXES = (".egg-info", ".pytest_cache")

_ANCHOR = r"[\w-]+"
#: `docs/reference.md#a`, then any `, #b` (a wrapped comment may repeat its `#` marker: `,\n# #b`)
_CITATION = re.compile(rf"docs/reference\.md#({_ANCHOR})((?:\s*,\s*(?:#\s+)?#{_ANCHOR})*)")
_FOLLOWING = re.compile(rf"#({_ANCHOR})")
#: a link of a file in docs/ to its sibling: `](reference.md#a)`
_SIBLING_LINK = re.compile(rf"\]\(reference\.md#({_ANCHOR})\)")
#: the reference's links to itself: `](#a)`
_SELF_LINK = re.compile(rf"\]\(#({_ANCHOR})\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_EXPLICIT = re.compile(r"""<a\s+[^>]*?(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _forbidden() -> list[tuple[str, re.Pattern[str]]]:
    """What would name a document outside the repository. Built from parts, so this file does not match."""
    spec = "SP" + "EC"
    return [
        (f"the word {spec}", re.compile(r"\b" + spec + r"\b")),
        (
            "a numbered section of a specification",
            re.compile(r"\b" + spec.lower() + r"(?:ification)?\b\s*(?:§|section\b|sec\.|\d+(?:\.\d+)+)", re.I),
        ),
        ("a product specification", re.compile(r"\bproduct\s+" + spec.lower() + r"ification\b", re.I)),
        (f"{spec}.md", re.compile(spec + r"\.md", re.I)),
        ("STYLE.md", re.compile("STY" + r"LE\.md", re.I)),
        ("../" + "sha" + "red", re.compile(r"\.\./" + "sha" + r"red\b")),
        ("/work/" + "sha" + "red", re.compile(r"/work/" + "sha" + r"red\b")),
    ]


@cache
def tracked_files() -> tuple[str, ...]:
    """The repository's tracked files (`git ls-files`), or, without git, the files of the tree."""
    try:
        done = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60)
        names = [n for n in done.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
        if names:
            return tuple(n for n in names if (REPO / n).is_file())
    except (OSError, subprocess.SubprocessError):
        pass
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in _UNTRACKED and not d.endswith(_UNTRACKED_SUFFIXES)]
        for name in files:
            if name not in _UNTRACKED:  # a worktree's `.git` is a file
                found.append((Path(root) / name).relative_to(REPO).as_posix())
    return tuple(sorted(found))


@cache
def text_of(name: str) -> str | None:
    """The file's text, or None for a binary file."""
    data = (REPO / name).read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text lowercased, punctuation but hyphens dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor of a Markdown text: heading slugs (a repeated one gets -1, -2…) and explicit anchors."""
    found: set[str] = set(_EXPLICIT.findall(markdown))
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        m = _HEADING.match(line)
        if m is None:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def citations() -> list[tuple[str, int, str]]:
    """(file, line, anchor) of every citation of an anchor of docs/reference.md in the tracked files."""
    out: list[tuple[str, int, str]] = []

    def add(name: str, text: str, at: int, anchor: str) -> None:
        out.append((name, text.count("\n", 0, at) + 1, anchor))

    for name in tracked_files():
        if name == THIS:
            continue
        text = text_of(name)
        if text is None or "reference.md" not in text and name != "docs/reference.md":
            continue
        for m in _CITATION.finditer(text):
            add(name, text, m.start(), m.group(1))
            for more in _FOLLOWING.finditer(m.group(2)):
                add(name, text, m.start(2) + more.start(), more.group(1))
        if name.startswith("docs/") and name.endswith(".md"):
            for m in _SIBLING_LINK.finditer(text):
                add(name, text, m.start(), m.group(1))
        if name == "docs/reference.md":
            for m in _SELF_LINK.finditer(text):
                add(name, text, m.start(), m.group(1))
    return out


def test_slugs_follow_github() -> None:
    assert slug("The bill") == "the-bill"
    assert slug("Evaluation (好差评)") == "evaluation-好差评"
    assert slug("The registry: the “1+N+M” government cloud") == "the-registry-the-1nm-government-cloud"
    assert slug("`usage import` and quotas") == "usage-import-and-quotas"
    assert slug("Amending a contract, handing over to a successor") == (
        "amending-a-contract-handing-over-to-a-successor"
    )
    assert anchors("# A\n```\n# not a heading\n```\n## A\n<a id='kept'></a>\n") == {"a", "a-1", "kept"}


def test_the_citation_pattern_reads_lists_of_anchors() -> None:
    m = _CITATION.search("(docs/reference.md#sla, #evaluation,\n    # #the-bill) and #not-this")
    assert m is not None
    assert [m.group(1), *_FOLLOWING.findall(m.group(2))] == ["sla", "evaluation", "the-bill"]


def test_the_repository_cites_the_reference() -> None:
    cited = {anchor for _, _, anchor in citations()}
    # the reference is really in use: code, docs and benchmarks cite it
    assert {"annual-fee", "the-bill", "performance-targets", "roles", "http-api"} <= cited


def test_every_cited_anchor_of_the_reference_exists() -> None:
    known = anchors(REFERENCE.read_text(encoding="utf-8"))
    missing = [f"{name}:{line}: #{anchor}" for name, line, anchor in citations() if anchor not in known]
    assert not missing, "anchors cited but not in docs/reference.md:\n" + "\n".join(missing)


def test_links_between_the_docs_resolve() -> None:
    """Links of docs/*.md and README.md to another document here, and to its heading, resolve."""
    link = re.compile(r"\]\(([^)\s#]+\.md)(?:#([\w-]+))?\)")
    problems = []
    for name in tracked_files():
        if not (name == "README.md" or (name.startswith("docs/") and name.endswith(".md"))):
            continue
        text = text_of(name) or ""
        for m in link.finditer(text):
            target = (REPO / name).parent / m.group(1)
            where = f"{name}:{text.count(chr(10), 0, m.start()) + 1}"
            if not target.is_file():
                problems.append(f"{where}: no file {m.group(1)}")
            elif m.group(2) and m.group(2) not in anchors(target.read_text(encoding="utf-8")):
                problems.append(f"{where}: no anchor #{m.group(2)} in {m.group(1)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("what", "pattern"), _forbidden(), ids=[w for w, _ in _forbidden()])
def test_no_tracked_file_points_outside_the_repository(what: str, pattern: re.Pattern[str]) -> None:
    hits = []
    for name in tracked_files():
        if name == THIS:
            continue
        text = text_of(name)
        if text is None:
            continue
        for m in pattern.finditer(text):
            hits.append(f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}")
    assert not hits, f"{what}, which users of the repository do not have:\n" + "\n".join(hits)


def test_the_forbidden_patterns_catch_what_they_mean() -> None:
    spec = "SP" + "EC"
    samples = [f"see {spec} 2.4", f"({spec.lower()}ification section 3)", f"{spec}.md", "../" + "shared/x"]
    for sample in samples:
        assert any(p.search(sample) for _, p in _forbidden()), sample
    for innocent in ["spec = parse(tenancy)", "TenancySpec", "the spec is None", "TagSpecifications", "FOCUS spec"]:
        assert not any(p.search(innocent) for _, p in _forbidden()), innocent
