"""The package's shape, checked: no import cycles, no module that grew past one job's size, and no
reaching into other libraries' private attributes (they break silently on an upgrade).

The layering itself (which package may import which) is import-linter's job: ``lint-imports`` in
``make test``, contracts in pyproject.toml.
"""

from __future__ import annotations

import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
#: "No module over ~400 lines": the few that sit just above it are tables (PDU classes, the index).
MAX_LINES = 430


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("gateway")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y"]]


def test_no_module_over_the_size_of_one_job() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in (ROOT / "gateway").rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


PRIVATE_USES = re.compile(
    r"\._transport\b|\bread_queue\b|\bis_at_eof\b"  # anyio's asyncio stream internals
    r"|\bre\._\w+|sre_parse|sre_compile|sre_constants"  # the regex compiler's internals
    r"|phonenumbers(\.\w+)*\._\w+"  # phonenumbers' private functions
    r"|from (re|phonenumbers|anyio)[\w.]* import .*\b_\w+"  # ... however they are imported
)


def test_no_private_attributes_of_other_libraries() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("gateway", "tools")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE_USES.search(line)
    ]
    assert offenders == []


def test_the_private_use_pattern_catches_each_form() -> None:
    for line in (
        "transport = stream._transport",
        "from re import _parser as sre_parse",
        "phonenumbers.phonenumberutil._extract_country_code(x)",
        "from phonenumbers.phonenumberutil import _VALID_PUNCTUATION",
        "queue = protocol.read_queue",
    ):
        assert PRIVATE_USES.search(line), line
    assert not PRIVATE_USES.search("from re import Pattern")
