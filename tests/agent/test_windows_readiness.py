"""The agent's code stays importable on Windows, as far as this Linux machine can check.

No Windows here: `mypy --platform win32 agent` (make typecheck) checks the calls,
and this AST scan checks the imports: a POSIX-only module imported when a module
loads would break `import agent.cli` on Windows before anything could run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[2] / "agent"

# Standard-library modules that exist on POSIX systems only.
POSIX_ONLY = frozenset(
    {"crypt", "fcntl", "grp", "nis", "posix", "pty", "pwd", "resource", "spwd", "syslog", "termios", "tty"}
)


def _guards_platform(test: ast.expr) -> bool:
    """``if sys.platform ...`` / ``if os.name ...`` (any comparison naming them)."""
    names = {ast.unparse(node) for node in ast.walk(test) if isinstance(node, ast.Attribute)}
    return bool(names & {"sys.platform", "os.name"})


def _runs_later_or_on_posix_only(node: ast.stmt) -> bool:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return True
    return isinstance(node, ast.If) and _guards_platform(node.test)


def module_level_posix_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of POSIX-only imports that run when the module is imported.

    Imports inside a function, or under an ``if`` on ``sys.platform``/``os.name``,
    run only on the POSIX branch and are fine.
    """
    found: list[tuple[int, str]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] in POSIX_ONLY)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in POSIX_ONLY:
                    found.append((node.lineno, node.module))
            elif _runs_later_or_on_posix_only(node):
                continue
            elif isinstance(node, ast.ClassDef):
                visit(node.body)
            elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(ast.parse(source).body)
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import fcntl\n", [(1, "fcntl")]),
        ("import os, pwd as p\n", [(1, "pwd")]),
        ("from resource import getrusage\n", [(1, "resource")]),
        ("try:\n    import termios\nexcept ImportError:\n    pass\n", [(2, "termios")]),
        ("class A:\n    import grp\n", [(2, "grp")]),
        ("def f():\n    import fcntl\n", []),
        ("import sys\nif sys.platform != 'win32':\n    import fcntl\n", []),
        ("import os\nif os.name == 'posix':\n    import pwd\nelse:\n    pass\n", []),
        ("import select, signal, socket\nfrom agent import wire\n", []),
        ("if True:\n    import fcntl\n", [(2, "fcntl")]),
    ],
)
def test_the_scan_finds_module_level_posix_imports(source: str, expected: list[tuple[int, str]]) -> None:
    assert module_level_posix_imports(source) == expected


def test_no_agent_module_imports_a_posix_only_module_at_import_time() -> None:
    files = sorted(AGENT.rglob("*.py"))
    assert len(files) > 20  # the scan really reads the package
    offenders = [
        f"{path.relative_to(AGENT.parent)}:{line}: import {module}"
        for path in files
        for line, module in module_level_posix_imports(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
