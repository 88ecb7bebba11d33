"""The README's main job: the example scripts run end to end on a fresh throwaway repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize("script", ["quickstart.sh", "sweep.sh"])
def test_example_script(script: str, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(
        ["bash", str(EXAMPLES / script)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    assert "finished" in output and "Traceback" not in output
    if script == "quickstart.sh":
        assert "+d." in output and "gitxp: record" in output  # a dirty version, and the store's git history
