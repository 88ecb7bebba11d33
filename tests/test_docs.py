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


def _documented_names() -> set[str]:
    import re

    readme = (ROOT / "README.md").read_text()
    readme = re.sub(r"git config (--\S+ )*gitxp\.[\w.]+", "", readme)  # git config keys are not Python names
    return set(re.findall(r"(?<!tool\.)\bgitxp\.([A-Za-z_]\w*)", readme))  # not pyproject's [tool.gitxp.*]


def test_every_public_name_the_readme_documents_exists() -> None:
    import importlib.util

    import gitxp

    names = _documented_names()
    assert {"start", "experiment", "current", "load", "metrics", "Sampler"} <= names
    for name in sorted(names):
        is_module = name.islower() and importlib.util.find_spec(f"gitxp.{name}") is not None
        assert hasattr(gitxp, name) or is_module, f"README documents gitxp.{name}, which does not exist"


def test_every_command_the_readme_documents_exists() -> None:
    import re

    from gitxp.cli import cli

    readme = (ROOT / "README.md").read_text()
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", readme, re.S))  # fenced blocks only
    commands = set(re.findall(r"^\s*(?:\$ )?gitxp ([a-z][a-z-]+)\b", code, re.M))
    assert {"run", "ls", "show", "compare", "rerun"} <= commands
    for command in sorted(commands):
        assert command in cli.commands, f"README documents 'gitxp {command}', which does not exist"
