"""Modules Great Expectations imports at start-up but our suites never run, loaded on first use instead.

`import great_expectations` imports every core expectation, and one of them (expect_column_kl_divergence_to_be_less_than)
brings in scipy.stats (with scipy.spatial, scipy.optimize…) and altair, and another (expect_column_values_to_match_json_schema)
jsonschema with every metaschema it ships: ~1.9 CPU-s of the ~3.5 s GX costs to import on this project's 2-core
machine, for expectations our suites (township/data/expectations/) never use. GX uses these names only inside
functions (`from scipy import stats`, `import altair as alt`, `import jsonschema` at the top of its modules, then
`stats.entropy(…)`, `alt.Chart(…)`, `jsonschema.validate(…)` when an expectation runs or renders), so the stdlib's `importlib.util.LazyLoader`
can create their module objects empty and run their code on the first attribute read: anything that does use them
(a suite that adds a KL-divergence expectation, our code, a test) gets the real module, only later.

`defer_unused_modules()` must run before Great Expectations is first imported; tasks/gx.py calls it, and every
module of ours that imports GX imports tasks.gx first. It is idempotent and touches only the names in LAZY.
Caveats: a second `import altair` statement elsewhere loads the module at once (the import system reads the module's
`__spec__`), which is correct, only not deferred; on Python 3.11 LazyLoader is not safe against two threads making
the *first* attribute read of the same module at the same moment (fixed in 3.12: gh-114763). Nothing here reads
them at all; tests/test_gx_startup.py checks that they stay unloaded through a validation and work when touched.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys

# Imported by Great Expectations, never used by our suites: measured with `python -X importtime -c "import
# great_expectations"` (scipy.stats ~1.1 s with scipy.spatial, altair ~0.5 s, on this project's machine).
LAZY = frozenset({"scipy.stats", "altair", "jsonschema"})


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of LAZY as the normal path finder does, with their loader wrapped in a LazyLoader."""

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001, ANN201 - importlib's signature
        if fullname not in LAZY:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


_FINDER = _DeferringFinder()


def defer_unused_modules() -> None:
    """Install the deferring finder (first in sys.meta_path) unless it is there, or the modules are loaded already."""
    if _FINDER in sys.meta_path or all(name in sys.modules for name in LAZY):
        return
    sys.meta_path.insert(0, _FINDER)


def is_deferred(name: str) -> bool:
    """Whether module `name` was imported but its code has not run yet (no attribute of it read so far)."""
    module = sys.modules.get(name)
    return module is not None and isinstance(module, importlib.util._LazyModule)  # noqa: SLF001 - no public test
