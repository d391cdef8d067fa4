"""The warehouse's tables as SQLAlchemy 2 models. Each class docstring states the table's grain.

Tables are singular and internal; analysts use the plural views in `warehouse/views.py`.
Schema changes are Alembic migrations (`warehouse/migrations/versions/`), never drop-and-recreate.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Periods are stored as 'YYYY-MM' text: sortable, readable, the same on SQLite and PostgreSQL.
PERIOD = String(7)


class Base(DeclarativeBase):
    pass


class OrgUnit(Base):
    """One row per org unit: the county and each of its townships."""

    __tablename__ = "org_unit"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # county | township
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("org_unit.code"))


class Reporter(Base):
    """One row per reporter (office or village) that submits a monthly form."""

    __tablename__ = "reporter"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    township_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    __table_args__ = (Index("ix_reporter_township", "township_code"),)  # a township's reads join on it


class Unit(Base):
    """One row per unit of measure a form may use, with its family and conversion factor."""

    __tablename__ = "unit"
    unit: Mapped[str] = mapped_column(String(16), primary_key=True)
    family: Mapped[str] = mapped_column(String(32))
    factor: Mapped[float] = mapped_column(Float)


class Indicator(Base):
    """One row per indicator code (the contract with reporters and analysts)."""

    __tablename__ = "indicator"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    unit: Mapped[str] = mapped_column(ForeignKey("unit.unit"))
    measure: Mapped[str] = mapped_column(String(8))  # flow | stock
    owner_kind: Mapped[str] = mapped_column(String(32))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("indicator.code"))
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    decimals: Mapped[int] = mapped_column(Integer, default=0)
    aggregation: Mapped[str] = mapped_column(String(16))  # owner | sum_villages
    headline: Mapped[int | None] = mapped_column(Integer)
    # how the county figure is made from the townships' signed figures: sum | none (no county total)
    county_aggregation: Mapped[str] = mapped_column(String(8), server_default="sum")


class Target(Base):
    """One row per township × year × indicator: the annual target (任务数) in the canonical unit."""

    __tablename__ = "target"
    township_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicator.code"), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class InboxFile(Base):
    """One row per inbox path as last seen (size, mtime, hash), so unchanged files are never re-hashed."""

    __tablename__ = "inbox_file"
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Submission(Base):
    """One row per distinct received file (by content hash), with its outcome and import counts."""

    __tablename__ = "submission"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    inbox_folder: Mapped[str] = mapped_column(String(256))
    reporter_code: Mapped[str | None] = mapped_column(ForeignKey("reporter.code"))
    township_code: Mapped[str | None] = mapped_column(ForeignKey("org_unit.code"))
    period: Mapped[str | None] = mapped_column(PERIOD)
    file_name: Mapped[str] = mapped_column(String(512))
    archive_path: Mapped[str] = mapped_column(String(1024))
    path: Mapped[str | None] = mapped_column(String(1024))  # where it lay in the inbox, e.g. 'invest/十月.xlsx'
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # accepted | accepted_with_warnings | accepted_pending_revision | rejected
    status: Mapped[str] = mapped_column(String(32))
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # when its receipt files were written; NULL: pending (the next run writes them from these rows)
    receipt_written_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    __table_args__ = (Index("ix_submission_reporter_period", "reporter_code", "period"),)


class Conflict(Base):
    """One row per problem found in a submission: a hard error (E_*) or a soft warning (W_*)."""

    __tablename__ = "conflict"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))  # error | warning
    sheet: Mapped[str | None] = mapped_column(String(128))
    cell: Mapped[str | None] = mapped_column(String(16))
    indicator_code: Mapped[str | None] = mapped_column(String(64))
    expected: Mapped[str | None] = mapped_column(Text)
    found: Mapped[str | None] = mapped_column(Text)
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class ValueHistory(Base):
    """One row per version of a reporter × period × indicator value; current rows have valid_to NULL.

    A new value never overwrites an old one: the old row gets valid_to, the new row is inserted.
    """

    __tablename__ = "value_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reporter_code: Mapped[str] = mapped_column(ForeignKey("reporter.code"))
    period: Mapped[str] = mapped_column(PERIOD)
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicator.code"))
    month_value: Mapped[float | None] = mapped_column(Float)
    ytd_value: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index(
            "ux_value_current",
            "reporter_code",
            "period",
            "indicator_code",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_value_period", "period", "indicator_code"),
    )


class Snapshot(Base):
    """One row per published vintage of a township's month (or of a county's roll-up, whose org unit is
    the county); immutable once written."""

    __tablename__ = "snapshot"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    township_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"))
    period: Mapped[str] = mapped_column(PERIOD)
    vintage: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # preliminary (快报) | final (定报)
    period_label: Mapped[str] = mapped_column(String(16))  # 1-10月, 1-2月
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    content_hash: Mapped[str] = mapped_column(String(64))
    # The sign-off (审核签发): who approved this vintage, as what, with what comment, when. NULL only for
    # vintages frozen before sign-off existed (migration 0005) or by code that froze without a signer.
    decision: Mapped[str | None] = mapped_column(String(16))  # preliminary (快报) | final (定报) | revision (修订)
    signer: Mapped[str | None] = mapped_column(String(128))  # the name as entered
    comment: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("township_code", "period", "vintage", name="uq_snapshot_vintage"),)


class PendingValue(Base):
    """One row per value of an accepted correction to a month already final (定报): stored, not current,
    until a signed revision makes it current (applied_at) and freezes the next vintage."""

    __tablename__ = "pending_value"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    reporter_code: Mapped[str] = mapped_column(ForeignKey("reporter.code"))
    period: Mapped[str] = mapped_column(PERIOD)
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicator.code"))
    month_value: Mapped[float | None] = mapped_column(Float)
    ytd_value: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # NULL = still pending
    __table_args__ = (Index("ix_pending_value_period", "period", "reporter_code"),)


class SnapshotValue(Base):
    """One row per snapshot × indicator: the township figure as published in that vintage."""

    __tablename__ = "snapshot_value"
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), primary_key=True)
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicator.code"), primary_key=True)
    month_value: Mapped[float | None] = mapped_column(Float)
    ytd_value: Mapped[float | None] = mapped_column(Float)
    prior_ytd_value: Mapped[float | None] = mapped_column(Float)
    yoy_pct: Mapped[float | None] = mapped_column(Float)
    annual_target: Mapped[float | None] = mapped_column(Float)
    target_pct: Mapped[float | None] = mapped_column(Float)
    schedule_gap_pp: Mapped[float | None] = mapped_column(Float)
    reporters_expected: Mapped[int] = mapped_column(Integer)
    reporters_reported: Mapped[int] = mapped_column(Integer)
    missing_reporters: Mapped[str | None] = mapped_column(Text)  # comma-separated codes


class SnapshotChange(Base):
    """One row per indicator whose figure changed between a vintage and the one before it."""

    __tablename__ = "snapshot_change"
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), primary_key=True)
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicator.code"), primary_key=True)
    old_month_value: Mapped[float | None] = mapped_column(Float)
    new_month_value: Mapped[float | None] = mapped_column(Float)
    old_ytd_value: Mapped[float | None] = mapped_column(Float)
    new_ytd_value: Mapped[float | None] = mapped_column(Float)
    submission_ids: Mapped[str | None] = mapped_column(Text)  # comma-separated submission ids


class SnapshotCheck(Base):
    """One row per failed check of the snapshot suite for a vintage (shown in its report)."""

    __tablename__ = "snapshot_check"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    indicator_code: Mapped[str | None] = mapped_column(String(64))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)


class CountySource(Base):
    """One row per county vintage × township of the county: the township's signed vintage the county
    vintage was built from (NULL: the township had no signed vintage of the month, 未报). Sealed with it."""

    __tablename__ = "county_source"
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), primary_key=True)  # the county vintage
    township_code: Mapped[str] = mapped_column(ForeignKey("org_unit.code"), primary_key=True)
    source_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))  # the township vintage
    source_vintage: Mapped[int | None] = mapped_column(Integer)


class SnapshotSeal(Base):
    """One row per vintage whose rows are complete: written last in the vintage's transaction, after
    which the database refuses any further snapshot_value, snapshot_change or snapshot_check row for it."""

    __tablename__ = "snapshot_seal"
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), primary_key=True)


class VintageManifest(Base):
    """One row per exported vintage folder: the sha256 of its manifest.json as written when the vintage was
    published. `township verify` compares the folder's manifest with it, so files rewritten together with
    their manifest are found; the database refuses to change or delete it."""

    __tablename__ = "vintage_manifest"
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), primary_key=True)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class OutboxMessage(Base):
    """One row per message to one recipient over one of its channels, for a period: what is (or was) sent
    and how sending went. Unique per recipient, channel, kind, period and subject, so enqueuing twice
    sends once. Holds the channel's name, never its URL (whose secrets are expanded only to send)."""

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(128))  # a reporter code, or '<township>/statistician|leaders'
    channel: Mapped[str] = mapped_column(String(64))  # the contact's name in the catalog (mail, dingtalk...)
    # rejection | reminder_due | reminder_overdue | signoff_request | published_report
    kind: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(PERIOD)
    subject_key: Mapped[str] = mapped_column(String(128), default="")  # e.g. the rejected file's sha256
    title: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("recipient", "channel", "kind", "period", "subject_key", name="uq_outbox_message"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )
