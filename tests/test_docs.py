"""Meta-tests: every hook is documented with its exact signature and exercised by a ``test_hook_*`` test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from gitxp import hookspecs

ROOT = Path(__file__).parent.parent
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("gitxp_"))


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented_with_its_signature(name: str) -> None:
    signature = str(inspect.signature(getattr(hookspecs, name))).replace("'", "")
    readme = (ROOT / "README.md").read_text().replace("\\|", "|")
    assert f"`{name}{signature}`" in readme


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name: str) -> None:
    tests = (ROOT / "tests" / "test_hooks.py").read_text()
    assert f"def test_hook_{name}(" in tests


def test_every_module_has_a_docstring() -> None:
    import ast

    for path in (ROOT / "gitxp").rglob("*.py"):
        if path.name == "__main__.py":
            continue
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no module docstring"


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    head = readme[: readme.index("## Quick start")]
    assert test_command in head
    assert "bash examples/quickstart.sh" in head
