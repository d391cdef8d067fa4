"""prefect.yaml's own build step: which Python the worker starts each flow run with.

Recorded at deploy time like the checkout's path (the `checkout` step), so that a process worker on this
machine runs each flow run as one process, `<this Python> -m prefect.engine <flow run id>`. Without a
command, Prefect 3.9's process worker starts a "workspace supervisor" process first (it imports Prefect
to prepare a uv workspace we do not use, then starts the engine): ~2 CPU-s and ~3 s more a run.
"""

from __future__ import annotations

import sys


def this_python() -> dict[str, str]:
    """The interpreter running `prefect deploy` (the checkout's virtualenv), as `{{ python.executable }}`."""
    return {"executable": sys.executable}

