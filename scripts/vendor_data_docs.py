"""Refresh the browser assets that our Data Docs load from disk instead of a CDN (a developer's tool, never run by
the pipeline): `npm pack` each package at the version GX's templates name, and keep only the files they load.

    .venv/bin/python scripts/vendor_data_docs.py     # rewrites township/data/data-docs/vendor/ and VENDOR.md

GX 1.x has no offline mode (its page templates link CDNs); tasks/gx_offline.py maps each CDN URL to these copies.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "township" / "data" / "data-docs" / "vendor"

# npm package@version: {file in the package: where it goes under vendor/}. Versions are those of GX 1.24's
# templates (render/view/templates); where they name a major only (vega@5), the newest of that major.
PACKAGES: dict[str, dict[str, str]] = {
    "bootstrap@4.3.1": {"dist/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
                        "dist/js/bootstrap.min.js": "bootstrap/bootstrap.min.js", "LICENSE": "bootstrap/LICENSE"},
    "jquery@3.7.1": {"dist/jquery.min.js": "jquery/jquery.min.js", "LICENSE.txt": "jquery/LICENSE.txt"},
    "popper.js@1.12.9": {"dist/umd/popper.min.js": "popper.js/popper.min.js"},
    "bootstrap-table@1.19.1": {
        "dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
        "dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
            "bootstrap-table/bootstrap-table-filter-control.min.css",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
            "bootstrap-table/bootstrap-table-filter-control.min.js",
        "LICENSE": "bootstrap-table/LICENSE"},
    "bootstrap-datepicker@1.9.0": {
        "dist/css/bootstrap-datepicker.min.css": "bootstrap-datepicker/bootstrap-datepicker.min.css",
        "dist/js/bootstrap-datepicker.min.js": "bootstrap-datepicker/bootstrap-datepicker.min.js",
        "LICENSE": "bootstrap-datepicker/LICENSE"},
    "@forevolve/bootstrap-dark@1.1.0": {
        "dist/css/bootstrap-prefers-dark.min.css": "bootstrap-dark/bootstrap-prefers-dark.min.css",
        "LICENSE": "bootstrap-dark/LICENSE"},
    "@fortawesome/fontawesome-free@6.6.0": {
        "css/all.min.css": "fontawesome/css/all.min.css", "LICENSE.txt": "fontawesome/LICENSE.txt",
        **{f"webfonts/{f}.{ext}": f"fontawesome/webfonts/{f}.{ext}"
           for f in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")
           for ext in ("woff2", "ttf")}},
    "vega@5.33.1": {"build/vega.min.js": "vega/vega.min.js"},
    "vega-lite@5.23.0": {"build/vega-lite.min.js": "vega/vega-lite.min.js", "LICENSE": "vega/LICENSE-vega-lite"},
    "vega-embed@6.29.0": {"build/vega-embed.min.js": "vega/vega-embed.min.js",
                          "LICENSE": "vega/LICENSE-vega-embed"},
}


def main() -> None:
    shutil.rmtree(TARGET, ignore_errors=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec, files in PACKAGES.items():
            name = subprocess.run(["npm", "pack", "--silent", spec], cwd=tmp, check=True, capture_output=True,
                                  text=True).stdout.strip().splitlines()[-1]
            with tarfile.open(Path(tmp) / name) as tar:
                meta = json.load(tar.extractfile("package/package.json"))
                for src, dst in files.items():
                    data = tar.extractfile(f"package/{src}").read()
                    out = TARGET / dst
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(data)
                    rows.append(f"| `{spec}` | {meta.get('license', '')} | `{src}` | `vendor/{dst}` | "
                                f"`{hashlib.sha256(data).hexdigest()[:16]}` |")
    (TARGET.parent / "VENDOR.md").write_text(
        "# Data Docs assets, served from disk\n\n"
        "GX Data Docs pages load these instead of CDNs (our machines and users' intranets have no internet).\n"
        "Written by `scripts/vendor_data_docs.py` from the npm packages below, byte for byte; "
        "`tasks/gx_offline.py` maps each CDN URL of GX's templates to one of them.\n\n"
        "| package | license | file | copied to | sha256 (first 16) |\n|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
