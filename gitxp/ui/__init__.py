"""``gitxp ui``: a local, read-only web dashboard over a repo's runs (Starlette + uvicorn, vendored uPlot/ECharts).

Nothing here is imported by other commands: the web stack loads only when the dashboard starts. See
``gitxp.ui.server.create_app`` (the app), ``gitxp.ui.api`` (the data) and ``gitxp.ui.report`` (static export).
"""

from __future__ import annotations

INSTALL_HINT = "the dashboard needs starlette and uvicorn: pip install 'gitxp[ui]'"
