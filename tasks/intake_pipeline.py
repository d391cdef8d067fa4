"""The intake pipeline, written once: pull → (per batch) read → archive → review → load → receipts.

Each step is a plain function over plain data (`Step`); `run_intake` calls them in order through a
`StepRunner`: directly (tests, bench, `township check`, rebuild) or as Prefect tasks (flows/intake.py).
A batch is validated in ONE validation and loaded in ONE transaction; the batch size is a setting.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import sys
import threading
from dataclasses import replace

from tasks.archiving import Archived, archive_reads
from tasks.batch_review import Reviewed, review_run
from tasks.form_limits import Limits
from tasks.gx_docs import DocsRun, intake_run_name, site_dir
from tasks.inbox import Incoming
from tasks.load import ContextFn, load, warehouse_context
from tasks.outbox import send_outbox
from tasks.pipeline import PLAIN, Pending, Step, StepRunner, start_worker_processes
from tasks.pull import Pulled, batch_of, pull
from tasks.read_files import FileRead, as_reads, parse_many, placed
from tasks.receipts import IntakeSummary, deferred_summary, write_receipts
from township.periods import Period
from warehouse.intake_io import LoadResult
from warehouse.signoff_io import final_periods
from warehouse.runtime import Runtime

log = logging.getLogger(__name__)

READ_CHUNK = 200  # files per read call (one task each under Prefect; parallel in worker processes or on Dask)


def _read(chunk: list[Incoming], limits: Limits) -> list[tuple]:
    return parse_many(chunk, limits)


def _chunks(items: list[Incoming], chunk: int) -> list[list[Incoming]]:
    return [items[i:i + chunk] for i in range(0, len(items), chunk)]


def read_files(rt: Runtime, items: list[Incoming], run: StepRunner = PLAIN, chunk: int = READ_CHUNK) -> list[FileRead]:
    """The read step over items in chunks of `chunk` files (parsed in parallel: worker processes, or Dask's
    workers), then each file placed against the catalog here. The limits are the runtime's settings, passed to
    the workers (not read from their environment)."""
    chunks = _chunks(items, chunk)
    parsed = run.map(READ, chunks, Limits.of(rt.settings))
    return [placed(r, rt.catalog) for part, got in zip(chunks, parsed) for r in as_reads(part, got)]


Reading = list[tuple[list[Incoming], Pending]]  # chunks of a batch being parsed, each with its pending result


def read_ahead(rt: Runtime, items: list[Incoming], run: StepRunner, chunk: int = READ_CHUNK) -> Reading:
    """The read step started over items in chunks (parsed in worker processes, or as the flow's tasks) while the
    pipeline goes on; `placed_reads` waits for them."""
    limits = Limits.of(rt.settings)
    return [(part, run.submit(READ, part, limits)) for part in _chunks(items, chunk)]


def placed_reads(rt: Runtime, reading: Reading) -> list[FileRead]:
    """What read_ahead's chunks parsed, each file placed against the catalog here."""
    return [placed(r, rt.catalog) for part, pending in reading for r in as_reads(part, pending.result())]


def _review(rt: Runtime, reads: list[FileRead], today: Period, context: ContextFn | None = None,
            docs: DocsRun | None = None, held: frozenset[str] = frozenset()) -> Reviewed:
    # Months already final (定报) are locked: read here, so `township check` says so too.
    return review_run(reads, rt.catalog, context or warehouse_context(rt), today, rt.settings.tz,
                      locked=final_periods(rt.engine), docs=docs, held=held)


def _load(rt: Runtime, reviewed: Reviewed, archived: Archived, part: Pulled) -> LoadResult:
    return load(rt, reviewed, archived, part)


PULL = Step("pull new files from the inbox", pull, retries=2)
# Python-bound (the table walk, the zip checks): on local workers, processes rather than threads
READ = Step("read forms", _read, processes=True)
# I/O and a flush, overlapping the review: in a worker process, where no busy thread holds its GIL
ARCHIVE = Step("archive raw files", archive_reads, retries=2, processes=True)
REVIEW = Step("review the batch (Great Expectations)", _review)
LOAD = Step("load into the warehouse", _load, retries=2)
# Python- and file-bound: a batch's receipts are written in a worker process while the next batch goes through
RECEIPTS = Step("write receipts", write_receipts, retries=2, processes=True)
SEND = Step("send the outbox", send_outbox, retries=2)
STEPS = (PULL, READ, ARCHIVE, REVIEW, LOAD, RECEIPTS, SEND)  # the order run_intake follows


def run_intake(rt: Runtime, run: StepRunner = PLAIN, *, today: Period | None = None, partition: str | None = None,
               received_before: dt.datetime | None = None, logger: logging.Logger | None = None,
               data_docs: bool = False) -> IntakeSummary:
    """One intake run: pull the inbox (one partition; what was received before a moment), then the batches.
    data_docs: also keep each batch's validation in the publish folder's GX Data Docs (the flow does)."""
    logger = logger or log
    pulled = run(PULL, rt, partition, received_before)
    logger.info("inbox %s: %d files listed, %d new, %d duplicates", rt.settings.inbox, pulled.listing_count,
                len(pulled.new), len(pulled.duplicates))
    summary = intake_batches(rt, pulled, run, today=today, logger=logger, data_docs=data_docs)
    sent = run(SEND, rt)  # rejections just queued, and earlier messages due a retry
    summary.messages_sent, summary.messages_failed = sent.sent, len(sent.failed)
    return summary


def intake_batches(rt: Runtime, pulled: Pulled, run: StepRunner = PLAIN, *, today: Period | None = None,
                   receipts_root: str | None = None, read_chunk: int | None = None,
                   logger: logging.Logger | None = None, data_docs: bool = False,
                   held: frozenset[str] = frozenset()) -> IntakeSummary:
    """Take pulled files through in batches of `settings.batch_files`, in receipt order: each batch read in
    parallel chunks, archived, validated in ONE validation, loaded in ONE transaction, answered. Memory
    stays bounded and a later batch sees what an earlier one loaded. Receipts go beside the archived
    files and in each reporter's 回执 folder (receipts_root: elsewhere, for a rebuild that must not rewrite
    them nor answer anyone). data_docs: keep each batch's validation in the Data Docs site, named
    `intake <months> batch <n> of <batches>`. held: files (sha256) to keep as pending revisions whatever
    the warehouse's locks say (a rebuild: they arrived while their month was final)."""
    logger = logger or log
    s = rt.settings
    today = today or Period.current(s.tz)
    size, read_chunk = s.batch_files, read_chunk or READ_CHUNK
    summary = IntakeSummary(files_listed=pulled.listing_count, files_new=len(pulled.new),
                            duplicates=len(pulled.duplicates))
    batches = [pulled.new[i:i + size] for i in range(0, len(pulled.new), size)] or [[]]
    # More than one chunk or batch: steps overlap. The next batch is read while one loads (worker processes, or
    # the Dask cluster); a batch is archived while it is reviewed and its receipts written while the next one
    # goes through, in worker processes of this machine (file writes in threads beside the busy main thread
    # would wait on its GIL at every call), never on a Dask cluster's workers, which may not see the archive
    # and inbox folders.
    overlap = len(pulled.new) > read_chunk or len(batches) > 1
    beside = overlap and not s.dask_address
    if beside:
        start_worker_processes()  # forked now, before the thread that imports GX holds any import lock
    if pulled.new:
        prefetch_validation()
    answering: Pending | None = None  # the previous batch's receipts, written while this batch is taken through
    reading = read_ahead(rt, batches[0], run, read_chunk) if overlap else None
    try:
        for n, batch in enumerate(batches, 1):
            last = n == len(batches)
            reads = placed_reads(rt, reading) if overlap else read_files(rt, batch, run, read_chunk)
            reading = None
            raw = [FileRead(replace(r.item), None, r.conflict, r.period) for r in reads]  # the bytes, not the rows
            # archived before anything of the batch is stored (the load waits for it); while it is, the batch
            # is reviewed, which stores nothing
            archiving = run.submit(ARCHIVE, s.archive, raw) if beside else None
            archived = None if beside else run(ARCHIVE, s.archive, raw)
            del raw
            for r in reads:
                r.item.data = b""  # parsed (and archived or being archived): not kept in memory
            docs = DocsRun(site_dir(s.publish_dir), intake_run_name([r.period for r in reads], n, len(batches))) \
                if data_docs else None
            reviewed = run(REVIEW, rt, reads, today, None, docs, held) if beside else None
            if archiving is not None:
                archived = archiving.result()
            deferred = None
            if archived.failed:  # deferred alone: not reviewed, not loaded, not marked seen; retried next run
                deferred = deferred_summary(reads, archived)
                reads = [r for r in reads if r.item.sha256 not in archived.failed]
                batch = [i for i in batch if i.sha256 not in archived.failed]
                reviewed = None  # reviewed with files that will not be stored: again without them
            if reviewed is None:
                reviewed = run(REVIEW, rt, reads, today, None, docs, held)
            for r in reads:
                r.columns = None  # in the reviewed frame now: not kept through the load and the receipts
            part = batch_of(pulled, batch, last=last)
            if overlap and not last:  # the next batch parsed (worker processes) while this one loads
                reading = read_ahead(rt, batches[n], run, read_chunk)
            result = run(LOAD, rt, reviewed, archived, part)
            del reads, archived, reviewed  # not alive while the next batch is read: one batch in memory
            if answering is not None:  # one batch's receipts at a time, in batch order
                summary.merge(answering.result())
                answering = None
            if deferred is not None:
                summary.merge(deferred)
            # a rebuild (receipts_root elsewhere) answers nobody: no reporter copies, no messages
            args = (rt, receipts_root or s.archive, result, part, None if receipts_root else s.inbox)
            if last or not beside:  # nothing left to overlap: written here, and the run returns once they are
                summary.merge(run(RECEIPTS, *args))
            else:  # written (in a worker process) while the next batch is read, archived, reviewed and loaded;
                # only receipts pending up to this batch's submissions: the next batch's are its own
                answering = run.submit(RECEIPTS, *args, max(result.submission_ids.values(), default=0))
            logger.info("batch %d/%d: %d files", n, len(batches), len(batch))
            del result
    except Exception:  # (a stop, KeyboardInterrupt or SystemExit, does not wait: they stay pending for the next run)
        if answering is not None:  # a committed batch's receipts: let them finish (or stay pending) first
            try:
                answering.result()
            except Exception as e:  # noqa: BLE001 - the run's own error is the one to raise
                logger.warning("receipts of the last loaded batch not written (pending for the next run): %s", e)
        raise
    return summary


def prefetch_validation() -> None:
    """Start importing Great Expectations (~3 s, mostly pure-Python class building) in a thread while the
    batch is read and archived; the review step's import then finds it done or waits for it (the import
    lock), so nothing runs before it is ready."""
    if "tasks.gx" in sys.modules:
        return
    threading.Thread(target=importlib.import_module, args=("tasks.gx",), name="prefetch-gx", daemon=True).start()


def review_files(rt: Runtime, items: list[Incoming], today: Period, run: StepRunner = PLAIN,
                 context: ContextFn | None = None) -> Reviewed:
    """The dry run (`township check`): the pipeline's read and review steps only; nothing archived or stored."""
    return run(REVIEW, rt, read_files(rt, items, run), today, context)

