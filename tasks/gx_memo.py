"""Each expectation's configuration built once per validation, not once per question GX asks of it.

Great Expectations 1.x builds an expectation's `configuration` afresh on every read (`Expectation.configuration`
dumps the pydantic model with `.dict()` and wraps it in a new ExpectationConfiguration), and reads it while planning a
validation once per success key of every metric it needs: ~1,700 builds for one run of our 24-expectation
submissions suite, 37 % of a validation's CPU (cProfile of tests/test_rules.py and tests/test_snapshot.py, 2026-11-29).

`memoised_configurations()` is a context manager around one validation of ours (tasks/gx.py). Inside it, the first
read of an expectation's configuration is kept for that expectation object and returned to the later reads. It is
dropped when the expectation is changed (`setattr`: GX sets `id` when a suite takes an expectation, for example)
and when the context ends. Outside it, and in other threads or tasks, the property behaves exactly as GX wrote it.
The objects are held until the context ends, so an id is never reused for another expectation inside it.

Only for the Great Expectations version this project pins (constraints.txt), where every read of a configuration
in a validation was checked to see the same configuration (tests/test_gx_memo.py compares whole validation
results with and without). Another version gets GX's own behaviour until it is checked again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

CHECKED_VERSION = "1.24.1"

_memo: ContextVar[dict | None] = ContextVar("township_gx_configuration_memo", default=None)
_installed: list[bool] = []
_installing = threading.Lock()  # validations may start in two threads at once (Prefect runs tasks in threads)


def _install() -> bool:
    """Put the memoising property on GX's Expectation once; False if this GX is not the version checked."""
    if _installed:
        return _installed[0]
    with _installing:
        return _installed[0] if _installed else _put_on_expectation()


def _put_on_expectation() -> bool:
    import great_expectations
    from great_expectations.expectations.expectation import Expectation

    ok = great_expectations.__version__ == CHECKED_VERSION
    if ok:
        build = Expectation.configuration.fget
        setattr_ = Expectation.__setattr__

        def configuration(self):  # noqa: ANN001, ANN202
            memo = _memo.get()
            if memo is None:
                return build(self)
            held = memo.get(id(self))
            if held is None or held[0] is not self:
                held = memo[id(self)] = (self, build(self))
            return held[1]

        def __setattr__(self, name, value) -> None:  # noqa: ANN001, N807
            memo = _memo.get()
            if memo is not None:
                memo.pop(id(self), None)
            setattr_(self, name, value)

        configuration.__doc__ = Expectation.configuration.__doc__
        Expectation.configuration = property(configuration)
        Expectation.__setattr__ = __setattr__
    _installed.append(ok)
    return ok


def is_active() -> bool:
    """Whether configurations are being memoised here and now (inside `memoised_configurations`, GX as checked)."""
    return _memo.get() is not None


@contextlib.contextmanager
def memoised_configurations() -> Iterator[None]:
    """Within the block, each expectation's configuration is built once (see the module's docstring)."""
    if not _install() or _memo.get() is not None:  # another GX, or already inside one: nothing to add
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)
