"""The `township` command line: the top layer, above the flows (see docs/architecture.md)."""

from township.settings import apply_prefect_defaults

# Before anything below imports Prefect, which reads its settings once: a plain `township intake` is as quiet
# and as offline as `make run` (no analytics, no telemetry traceback).
apply_prefect_defaults()
