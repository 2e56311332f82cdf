"""Uploads while serving: a file (and a preset or a mapping) loaded through the running app.

- Who: analysts and admins (the adapters check the role; viewers get 403).
- Size: the request body is bounded by :func:`max_upload_bytes` (``$SHOPSCOPE_MAX_UPLOAD_MB``,
  default 200 MB) in the app's body-limit middleware, before a byte is stored.
- Content: the name's extension and the first bytes must agree: ``.csv`` (text, no NUL
  bytes), ``.csv.gz`` / ``.gz`` (gzip), ``.xlsx`` (a zip), ``.parquet`` (``PAR1``); a
  mapping is a UTF-8 ``.toml`` whose sources read only files beside it (no paths, no
  databases). Anything else is refused with the reason, nothing loaded.
- Where: the multipart body is streamed straight into ``<workspace>/uploads/tmp/<id>/``
  and that folder is removed when the load ends, whatever its result.
- How: a background job runs the CLI's ingest path (:func:`shopscope.ingest.ingest_file`
  or :func:`shopscope.ingest.mapping.ingest_mapping`) under the app's store lock, one
  upload at a time; its state (``queued`` → ``loading`` → ``done`` / ``rejected`` /
  ``failed``) and step are polled by the page. After a load the app reads the new data
  version at once, which empties its result cache and starts the warm-up.
- Audit: every upload, refused ones included, is a line of ``uploads/audit.jsonl`` in the
  workspace: who, when, file name, size, sha256, preset or mapping, result and counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from shopscope.errors import ShopscopeError, ValidationFailed
from shopscope.ui.security import UPLOAD_PATHS, max_upload_bytes

__all__ = ["UPLOAD_PATHS", "AuditEntry", "UploadError", "UploadStatus", "Uploads",
           "check_content", "max_upload_bytes"]

#: Problems shown on the page and in the status; the download has every example kept.
SHOWN_PROBLEMS = 20
#: Finished jobs kept in memory for their status and rejects download.
KEPT_JOBS = 50
MAX_MAPPING_BYTES = 256 << 10

Kind = Literal["csv", "gzip", "xlsx", "parquet"]
State = Literal["queued", "loading", "done", "rejected", "failed"]
_EXTENSIONS: dict[str, Kind] = {".csv": "csv", ".csv.gz": "gzip", ".gz": "gzip",
                                ".xlsx": "xlsx", ".parquet": "parquet"}
_MAGIC: dict[Kind, bytes] = {"gzip": b"\x1f\x8b", "xlsx": b"PK\x03\x04", "parquet": b"PAR1"}


class UploadError(ShopscopeError):
    """An upload refused before loading (``status`` 4xx): wrong type, bad mapping, …"""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


def safe_name(name: str) -> str:
    """The uploaded file's own name, reduced to a safe base name.

    >>> safe_name("../../etc/passwd"), safe_name("C:\\\\x\\\\订单 2024.csv"), safe_name("")
    ('passwd', '订单_2024.csv', 'upload')
    """
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^\w.\-]+", "_", base).strip("._")
    return base[:120] or "upload"


def kind_of(name: str) -> Kind | None:
    """The upload's kind by its name.

    >>> kind_of("orders.CSV"), kind_of("x.csv.gz"), kind_of("a.xlsx"), kind_of("a.exe")
    ('csv', 'gzip', 'xlsx', None)
    """
    lower = name.lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if lower.endswith(ext):
            return _EXTENSIONS[ext]
    return None


def check_content(path: Path, name: str) -> Kind:
    """The kind of an uploaded file whose extension and first bytes agree; else
    :class:`UploadError` (415) saying what was expected."""
    kind = kind_of(name)
    allowed = "CSV (.csv, .csv.gz), Excel (.xlsx) or Parquet (.parquet)"
    if kind is None:
        raise UploadError(415, "upload_type", f"{name}: this type of file cannot be loaded",
                          f"upload {allowed}")
    with open(path, "rb") as fh:
        head = fh.read(64 << 10)
    if not head:
        raise UploadError(422, "upload_empty", f"{name}: the file is empty",
                          "choose the export file itself")
    if kind == "csv":
        if any(head.startswith(m) for m in _MAGIC.values()):
            raise UploadError(415, "upload_content",
                              f"{name}: named .csv but its content is not text (a compressed "
                              "or binary file)", "give it its real extension, or export as CSV")
        if b"\x00" in head:
            raise UploadError(415, "upload_content",
                              f"{name}: named .csv but it holds NUL bytes (UTF-16 or binary)",
                              "save the CSV as UTF-8 (or GBK) text")
        return kind
    if not head.startswith(_MAGIC[kind]):
        raise UploadError(415, "upload_content",
                          f"{name}: the content is not {kind_of_label(kind)} as its name says",
                          f"upload {allowed}")
    return kind


def kind_of_label(kind: Kind) -> str:
    return {"gzip": "gzip", "xlsx": "an Excel workbook", "parquet": "Parquet",
            "csv": "CSV"}[kind]


def check_mapping(path: Path, name: str) -> None:
    """An uploaded mapping must be valid and read only files beside it: no absolute or
    parent paths, no databases (the server would connect wherever it says)."""
    from shopscope.ingest.mapping import load_mapping

    if not name.lower().endswith(".toml"):
        raise UploadError(415, "upload_type", f"{name}: a mapping is a .toml file",
                          "see docs/ingest.md for mapping files")
    if path.stat().st_size > MAX_MAPPING_BYTES:
        raise UploadError(413, "upload_too_large",
                          f"{name}: a mapping file is at most {MAX_MAPPING_BYTES >> 10} KiB")
    mapping = load_mapping(path)
    for i, src in enumerate(mapping.sources, start=1):
        if src.file is None or src.url:
            raise UploadError(422, "upload_mapping",
                              f"{name}: source[{i}] reads a database; uploaded mappings read "
                              "only the uploaded file", "load databases with shopscope ingest")
        if src.file.startswith(("/", "\\", "~")) or ".." in src.file or re.match(
                r"^[A-Za-z]:", src.file) or "/" in src.file or "\\" in src.file:
            raise UploadError(422, "upload_mapping",
                              f"{name}: source[{i}].file {src.file!r} points outside the upload",
                              "name the file without a folder, e.g. file = \"orders.csv\"")


# -- the audit log ---------------------------------------------------------------------------


class AuditEntry(BaseModel):
    """One upload: who, when, what (name, size, sha256, preset or mapping) and the result."""

    model_config = ConfigDict(frozen=True)

    at: str
    user: str
    role: str
    file: str
    size: int
    sha256: str | None
    preset: str | None = None
    mapping: str | None = None
    mapping_sha256: str | None = None
    policy: str = "reject"
    result: str
    rows_added: int = 0
    rows_rejected: int = 0
    message: str | None = None


def _audit_path(workspace_path: Path) -> Path:
    return Path(workspace_path) / "uploads" / "audit.jsonl"


_AUDIT_LOCK = threading.Lock()


def audit(workspace_path: Path, entry: AuditEntry) -> None:
    path = _audit_path(workspace_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _AUDIT_LOCK, open(path, "a", encoding="utf-8") as fh:
        fh.write(entry.model_dump_json() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def audit_log(workspace_path: Path, limit: int = 200) -> list[AuditEntry]:
    """The newest ``limit`` entries, newest first (a damaged line is skipped)."""
    path = _audit_path(workspace_path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[::-1]:
        try:
            out.append(AuditEntry.model_validate_json(line))
        except ValueError:
            continue
        if len(out) >= limit:
            break
    return out


# -- jobs ------------------------------------------------------------------------------------


class ProblemRow(BaseModel):
    """A rejected value of an upload: table, row, column, value, reason."""

    table: str
    row: int | None
    column: str
    value: str | None
    reason: str


class UploadStatus(BaseModel):
    """Where an upload stands (``GET /api/data/uploads/{id}``)."""

    id: str
    state: State
    step: str | None = None
    file: str
    size: int
    sha256: str
    preset: str | None = None
    mapping: str | None = None
    policy: Literal["reject", "quarantine"]
    user: str
    started_at: str
    finished_at: str | None = None
    message: str | None = None
    hint: str | None = None
    rows_added: dict[str, int] = {}
    rows_rejected: int = 0
    problems_total: int = 0
    problems: list[ProblemRow] = []
    notes: list[str] = []
    warnings: list[str] = []

    @property
    def finished(self) -> bool:
        return self.state in ("done", "rejected", "failed")


class Served(Protocol):
    """What an upload needs of the served app (``shopscope.ui.deps.AppState``)."""

    workspace: Any
    lock: Any

    def refresh_version(self, blocking: bool = True) -> str: ...


@dataclass
class _Job:
    status: UploadStatus
    folder: Path
    data: Path
    mapping: Path | None
    role: str
    mapping_sha256: str | None
    all_problems: list[ProblemRow] = field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Uploads:
    """The uploads of one served workspace: jobs by id, run one at a time."""

    def __init__(self, state: Served) -> None:
        self._state = state
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()

    @property
    def root(self) -> Path:
        return Path(self._state.workspace.path) / "uploads" / "tmp"

    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its temporary folder inside the workspace."""
        job_id = uuid.uuid4().hex[:16]
        folder = self.root / job_id
        folder.mkdir(parents=True)
        return job_id, folder

    def refuse(self, folder: Path, user: Any, file: str, exc: UploadError,
               data: Path | None = None) -> None:
        """Audit a refused upload and remove what was received."""
        size = data.stat().st_size if data is not None and data.exists() else 0
        digest = sha256_of(data) if data is not None and data.exists() else None
        shutil.rmtree(folder, ignore_errors=True)
        audit(self._state.workspace.path, AuditEntry(
            at=_now(), user=user.username, role=user.role, file=file, size=size,
            sha256=digest, result="refused", message=exc.message))

    def start(self, *, job_id: str, folder: Path, data: Path, file: str, user: Any,
              preset: str | None, mapping: Path | None, mapping_name: str | None,
              policy: str) -> UploadStatus:
        """Check the received files and start loading them in the background."""
        try:
            check_content(data, file)
            if mapping is not None:
                check_mapping(mapping, mapping_name or "mapping.toml")
            elif not preset:
                raise UploadError(422, "upload_preset", "choose a preset or upload a mapping",
                                  "presets: online_retail, cdnow, taobao")
            else:
                from shopscope.ingest import PRESETS

                if preset not in PRESETS or preset == "canonical":
                    raise UploadError(422, "upload_preset", f"unknown preset {preset!r}",
                                      "presets: online_retail, cdnow, taobao")
            if policy not in ("reject", "quarantine"):
                raise UploadError(422, "upload_policy", f"unknown policy {policy!r}",
                                  "reject or quarantine")
        except UploadError as exc:
            self.refuse(folder, user, file, exc, data)
            raise
        except ShopscopeError as exc:  # a mapping that does not parse
            err = UploadError(422, "upload_mapping", exc.message, exc.hint)
            self.refuse(folder, user, file, err, data)
            raise err from None
        status = UploadStatus(
            id=job_id, state="queued", file=file, size=data.stat().st_size,
            sha256=sha256_of(data), preset=None if mapping else preset,
            mapping=mapping_name if mapping else None, policy=policy,  # type: ignore[arg-type]
            user=user.username,
            started_at=_now())
        job = _Job(status, folder, data, mapping, user.role,
                   sha256_of(mapping) if mapping else None)
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > KEPT_JOBS:
                oldest = next(iter(self._jobs))
                if not self._jobs[oldest].status.finished:
                    break
                self._jobs.pop(oldest)
        threading.Thread(target=self._run, args=(job,), name=f"shopscope-upload-{job_id}",
                         daemon=True).start()
        return status

    def status(self, job_id: str) -> UploadStatus | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.status

    def problems(self, job_id: str) -> list[ProblemRow] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else list(job.all_problems)

    def _update(self, job: _Job, **changes: Any) -> None:
        with self._lock:
            job.status = job.status.model_copy(update=changes)

    def _run(self, job: _Job) -> None:
        with self._one_at_a_time:
            try:
                self._load(job)
            except Exception as exc:
                import logging

                logging.getLogger(__name__).exception("upload %s failed", job.status.id)
                self._update(job, state="failed", message=f"internal error: {exc}",
                             finished_at=_now())
            finally:
                shutil.rmtree(job.folder, ignore_errors=True)
                self._audit(job)

    def _progress(self, job: _Job) -> Any:
        def report(what: str, done: int, total: int) -> None:
            self._update(job, step=f"{what} ({done}/{total})" if total > 1 else what)
        return report

    def _load(self, job: _Job) -> None:
        from shopscope.ingest import ingest_file
        from shopscope.ingest.mapping import ingest_mapping

        state = self._state
        self._update(job, state="loading", step="waiting for the store")
        policy = job.status.policy
        try:
            with state.lock:
                if job.mapping is not None:
                    results = ingest_mapping(state.workspace, job.mapping, policy=policy,
                                             progress=self._progress(job))
                else:
                    results = [ingest_file(state.workspace, job.data,
                                           preset=job.status.preset or "",
                                           policy=policy, progress=self._progress(job))]
        except ValidationFailed as exc:
            problems = [_row(p) for p in exc.report.problems]
            job.all_problems = problems
            self._update(job, state="rejected", message=exc.message, hint=exc.hint,
                         problems_total=exc.report.n_problems,
                         problems=problems[:SHOWN_PROBLEMS], finished_at=_now(), step=None)
            return
        except ShopscopeError as exc:
            self._update(job, state="failed", message=exc.message, hint=exc.hint,
                         finished_at=_now(), step=None)
            return
        added: dict[str, int] = {}
        problems, notes, warnings, total, rejected = [], [], [], 0, 0
        for r in results:
            for table, n in r.rows_added.items():
                added[table] = added.get(table, 0) + n
            rejected += sum(r.rows_rejected.values())
            problems += [_row(p) for p in r.report.problems]
            total += r.report.n_problems
            notes += r.report.notes
            warnings += r.warnings
        job.all_problems = problems
        self._update(job, step="refreshing the dashboard")
        state.refresh_version()  # new data version: the cache empties, the warm-up starts
        self._update(job, state="done", rows_added=added, rows_rejected=rejected,
                     problems_total=total, problems=problems[:SHOWN_PROBLEMS], notes=notes,
                     warnings=warnings, finished_at=_now(), step=None,
                     message="already loaded (same content); nothing added"
                     if results and all(r.skipped for r in results) else None)

    def _audit(self, job: _Job) -> None:
        s = job.status
        audit(self._state.workspace.path, AuditEntry(
            at=s.started_at, user=s.user, role=job.role, file=s.file, size=s.size,
            sha256=s.sha256, preset=s.preset, mapping=s.mapping,
            mapping_sha256=job.mapping_sha256, policy=s.policy, result=s.state,
            rows_added=sum(s.rows_added.values()), rows_rejected=s.rows_rejected,
            message=s.message))


def _row(p: Any) -> ProblemRow:
    return ProblemRow(table=p.table, row=p.row, column=p.column,
                      value=None if p.value is None else str(p.value), reason=p.reason)


# -- receiving the multipart body --------------------------------------------------------------


@dataclass
class Received:
    """A multipart upload as received: text fields, and files saved in ``folder``
    (field name → (original name, path))."""

    folder: Path
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, Path]] = field(default_factory=dict)


async def receive(request: Any, folder: Path) -> Received:
    """Stream a ``multipart/form-data`` body into ``folder``: file parts go to disk as they
    arrive (never whole in memory, never outside the workspace). The body's size is bounded
    by the app's middleware (:func:`max_upload_bytes`)."""
    from python_multipart.multipart import FormParser, parse_options_header

    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in options:
        raise UploadError(415, "upload_form", "send the file as multipart/form-data",
                          "a form with enctype=multipart/form-data, or curl -F file=@orders.csv")
    got = Received(folder)
    parts: list[Any] = []

    def on_field(f: Any) -> None:
        name = (f.field_name or b"").decode("utf-8", "replace")
        got.fields[name] = (f.value or b"").decode("utf-8", "replace")[:1000]

    def on_file(f: Any) -> None:
        parts.append(f)

    config = {"UPLOAD_DIR": str(folder), "MAX_MEMORY_FILE_SIZE": 0,
              "UPLOAD_DELETE_TMP": False, "UPLOAD_KEEP_FILENAME": False}
    parser = FormParser("multipart/form-data", on_field, on_file,
                        boundary=options[b"boundary"], config=config)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except Exception as exc:
        if type(exc).__name__ in ("BodyTooLarge", "NulInBody"):  # the middleware's answer
            raise
        raise UploadError(400, "upload_form", f"the upload could not be read: {exc}",
                          "send the file again") from None
    for n, part in enumerate(parts):
        field_name = (part.field_name or b"").decode("utf-8", "replace")
        original = (part.file_name or b"").decode("utf-8", "replace")
        if not original:  # an empty file input
            part.close()
            continue
        target = folder / f".part{n}"  # named by the caller (data file or mapping)
        if part.in_memory:  # zero bytes never reach the disk
            part.file_object.seek(0)
            target.write_bytes(part.file_object.read())
            part.close()
        else:
            part.file_object.flush()
            source = Path(os.fsdecode(part.actual_file_name))
            part.close()
            source.rename(target)
        got.files[field_name] = (original, target)
    return got
