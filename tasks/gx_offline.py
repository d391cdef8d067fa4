"""Data Docs pages that load every script, stylesheet, font and image from the site itself, never from a CDN.

GX 1.x's page templates link bootstrap, jquery, font-awesome, vega… on CDNs and GX has no setting to change that
(it declined an offline mode). Its site builder does take the view class of each section from the site's config
(tasks/gx_docs.py names these), so these views read GX's own templates through a loader that rewrites each CDN URL
to the copy under the site's `static/vendor/` (township/data/data-docs/VENDOR.md), relative to the page. A template
that still links an asset with no local copy is refused: a GX upgrade that adds one fails loudly here.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BaseLoader, Environment, FileSystemBytecodeCache, pass_context
from jinja2.bccache import Bucket
from jinja2.runtime import Context

log = logging.getLogger(__name__)

VENDOR = "static/vendor/"  # where tasks/gx_docs.py copies township/data/data-docs/vendor/ in the site

# Every asset URL in GX 1.24's templates → its copy under vendor/ (same package and version; see VENDOR.md).
CDN = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    # GX links the filter-control stylesheet of 1.19.0 (minified or not); 1.19.1's is the same extension.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark/bootstrap-prefers-dark.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega/vega-embed.min.js",
}
# GX's logos on its own web server → the images GX ships in the site's static/images/ (it ships no dark logo).
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
IMAGES = {"logo-long.png": "logo-long.png", "full_logo_dark.png": "logo-long.png"}

_ROOT = "{{ data_docs_root() }}"
_CDN_TAG = re.compile(r'<(script|link)\b[^>]*?\b(?:src|href)="(https?://[^"]+)"[^>]*>')
# What would still make a browser fetch from outside: a script, stylesheet or image URL, a CSS url(), an image dir.
_REMOTE_ASSET = re.compile(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="https?://|url\(\s*[\'"]?https?://'
                           r'|static_images_dir\s*=\s*"https?://')


class OfflineDocsError(RuntimeError):
    """A GX template links an asset this module has no local copy of."""


def offline_source(name: str, source: str) -> str:
    """A GX template (or its CSS) with every CDN asset pointing at the site's own copy, relative to the page.

    The tags are written anew: `integrity`/`crossorigin` go (a crossorigin request for a file:// URL is refused)."""
    def local(match: re.Match) -> str:
        kind, url = match.groups()
        if url not in CDN:
            raise OfflineDocsError(f"GX template {name} links {url}, which has no local copy: vendor it "
                                   "(scripts/vendor_data_docs.py) and map it in tasks/gx_offline.CDN")
        path = _ROOT + VENDOR + CDN[url]
        return f'<script src="{path}">' if kind == "script" else f'<link rel="stylesheet" href="{path}"/>'

    source = _CDN_TAG.sub(local, source)
    # top_navbar.j2 sets its image folder to GX's web server: {% set static_images_dir = "https://…/" %}
    source = source.replace(f'"{GX_IMAGES}"', 'data_docs_root() ~ "static/images/"')
    for remote, mine in IMAGES.items():
        source = source.replace(GX_IMAGES + remote, f"{_ROOT}static/images/{mine}")
    # favicon.j2 counts one level too few above a validation page (…/validations/static/images/favicon.ico).
    source = source.replace('{{ static_images_dir + "favicon.ico" }}', f"{_ROOT}static/images/favicon.ico")
    left = _REMOTE_ASSET.search(source)
    if left:
        raise OfflineDocsError(f"GX template {name} still loads from outside: …{source[left.start():left.end() + 60]}…")
    return source


@pass_context
def data_docs_root(ctx: Context) -> str:
    """The site's root relative to the page being rendered: the page's depth, as GX's own top_navbar.j2 counts it
    (validations/<suite>/<run name>/<run time>/<batch>.html, expectations/<suite>.html, index.html)."""
    kind = ctx.get("renderer_type") or ""
    dots = (ctx.get("expectation_suite_name") or "").count(".")
    if "ValidationResults" in kind or "ProfilingResults" in kind:
        return "../" * (dots + 4)
    if "ExpectationSuite" in kind:
        return "../" * (dots + 1)
    return ""


class _OfflineLoader(BaseLoader):
    def __init__(self, inner: BaseLoader):
        self.inner = inner

    def get_source(self, environment: Environment, template: str):  # noqa: ANN201
        source, filename, uptodate = self.inner.get_source(environment, template)
        return offline_source(template, source), filename, uptodate


class _CompiledTemplates(FileSystemBytecodeCache):
    """Jinja's compiled templates, kept for the process in memory and for later processes in the cache folder.

    GX builds a new view, and with it a new Jinja environment, for every page of every Data Docs build, so each
    build compiled the same templates again: ~0.35 CPU-s of the ~0.8 s a publish's checked and documented preview
    took, in every flow run. Jinja's bytecode cache is made for this: a bucket is keyed by the template's name and
    file, Jinja checks the checksum of the (rewritten) source before it uses the code, so a changed template (a GX
    upgrade) is compiled anew, and the file cache writes each file atomically (two processes at once are safe)."""

    def __init__(self, folder: Path | None) -> None:
        self.on_disk = folder is not None
        if self.on_disk:  # (with None, Jinja's own would pick a folder in /tmp)
            super().__init__(str(folder))
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)
        elif self.on_disk:
            super().load_bytecode(bucket)
            if bucket.code is not None:
                self._code[bucket.key] = bucket.bytecode_to_string()

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()
        if self.on_disk:
            try:
                super().dump_bytecode(bucket)
            except OSError as exc:  # a full or read-only cache folder costs speed, never a page
                log.warning("Data Docs templates not cached in %s: %s", self.directory, exc)


@lru_cache(maxsize=1)
def compiled_templates() -> _CompiledTemplates:
    """The process's cache of compiled templates, in `<TOWNSHIP_CACHE_DIR>/data-docs-templates` (memory only if
    that folder cannot be made)."""
    from township.settings import get_settings

    folder = Path(get_settings().cache_dir) / "data-docs-templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("Data Docs templates cached in memory only, %s: %s", folder, exc)
        return _CompiledTemplates(None)
    return _CompiledTemplates(folder)


class _Offline:
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - GX passes its own arguments through
        super().__init__(*args, **kwargs)
        self.env.loader = _OfflineLoader(self.env.loader)
        self.env.globals["data_docs_root"] = data_docs_root
        self.env.bytecode_cache = compiled_templates()


class OfflinePageView(_Offline, DefaultJinjaPageView):
    """A validation or expectation suite page that loads nothing from outside the site."""


class OfflineIndexPageView(_Offline, DefaultJinjaIndexPageView):
    """The site's index.html, loading nothing from outside the site."""
