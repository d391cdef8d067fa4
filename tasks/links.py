"""Links to published files that a browser opens: HTTP under TOWNSHIP_PUBLISH_BASE_URL when it is set (browsers
refuse file:// links from a web page such as the Prefect UI), a file:// URL otherwise."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from township.settings import Settings


def published_url(settings: Settings, path: str | Path) -> str:
    """The URL of `path` (a file in the publish folder, e.g. a vintage's report.html or the Data Docs index)."""
    path = Path(path).resolve()
    if settings.publish_base_url:
        try:
            relative = path.relative_to(Path(settings.publish_dir).resolve())
        except ValueError:
            return path.as_uri()  # not under the served folder: only the file itself can point at it
        return settings.publish_base_url.rstrip("/") + "/" + quote(relative.as_posix())
    return path.as_uri()
