"""The files a run's artifacts put on the ref (the manifest and the small artifacts' bytes); see gitxp.store.artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST = "artifacts.json"
STAGED = "artifacts.staged"  # inside the run's staging dir (never the output dir's artifacts/)


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """The artifacts manifest at ``path`` (``artifacts.json``: name -> entry); empty when missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def committed_files(staged: Path, base: str) -> dict[str, bytes]:
    """The ref files for a staged run's artifacts: the manifest and every small artifact's bytes."""
    manifest = read_manifest(staged / MANIFEST)
    if not manifest:
        return {}
    files = {f"{base}/{MANIFEST}": json.dumps(manifest, indent=1, sort_keys=True).encode()}
    for name, entry in manifest.items():
        if entry.get("stored") == "ref":
            files[f"{base}/artifacts/{name}"] = (staged / STAGED / name).read_bytes()
    return files
