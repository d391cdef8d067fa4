"""Our custom Great Expectations: the domain rules that have a name of their own.

Each is a built-in expectation with the domain's column and bounds preset, so a suite file can say
`expect_ytd_identity_to_hold` instead of repeating columns and tolerances. GX registers an expectation
class when it is defined: this module must be imported before a suite is loaded (tasks/gx.py does),
or GX drops the unknown expectations and the suite passes empty.
"""

from __future__ import annotations

from great_expectations import expectations as gxe


class ExpectYtdIdentityToHold(gxe.ExpectColumnValuesToBeBetween):
    """上月累计 + 本月 = 本月累计, within rounding: `identity_excess` = |gap| − tolerance ≤ 0."""

    column: str = "identity_excess"
    max_value: float = 0.0
    description: str = "last month's ytd + this month = this month's ytd (within rounding)"


class ExpectNoYearOnYearSwing(gxe.ExpectColumnValuesToBeBetween):
    """Year-on-year change of the cumulative (stock: of the level) within ±50%."""

    column: str = "yoy_change"
    min_value: float = -0.5
    max_value: float = 0.5
    description: str = "year-on-year change within ±50%"


class ExpectMonthWithinOwnHistory(gxe.ExpectColumnValuesToBeBetween):
    """The month's value within 5 robust z-scores (median/MAD) of the reporter's own last 12 months.

    5, not the textbook 3.5: monthly flows are seasonal (heating in autumn, tourism at the peach
    festival), and 3.5 flagged every seasonal peak of the demo township."""

    column: str = "robust_z"
    min_value: float = -5.0
    max_value: float = 5.0
    description: str = "month value within 5 robust z-scores of its own history"


class ExpectNoUnitShift(gxe.ExpectColumnValuesToBeBetween):
    """The month's value not about 10,000× (or 1/10,000) its usual level: |log10(value / median)| ≤ 3.3."""

    column: str = "history_log10_ratio"
    min_value: float = -3.3
    max_value: float = 3.3
    description: str = "month value not ~10,000x off its history (a unit slip)"


class ExpectMonthNotRepeated(gxe.ExpectColumnValuesToBeInSet):
    """A flow's non-zero month value differs from last month's (a copied form is a common slip)."""

    column: str = "repeats_last_month"
    value_set: list = [False]
    description: str = "non-zero month value not identical to last month's"


CUSTOM = [ExpectYtdIdentityToHold, ExpectNoYearOnYearSwing, ExpectMonthWithinOwnHistory, ExpectNoUnitShift,
          ExpectMonthNotRepeated]
