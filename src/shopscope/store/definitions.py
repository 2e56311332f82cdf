"""Saved definitions (audiences, experiments): one validated JSON file each in a folder of
the workspace, written atomically.

A subclass names the folder, the kind of thing it keeps, the field that is its id, its
parser and its two errors; the file handling is here once.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from shopscope.errors import ShopscopeError, WorkspaceError

T = TypeVar("T")

#: Ids are file names: letters of any script, digits, ``_ . -``, starting with a word
#: character, at most 100 long.
ID_PATTERN = r"^\w[\w.-]{0,99}$"


class DefinitionStore(Generic[T]):
    """``list()``, ``save(definition, overwrite=True)``, ``load(id)``, ``delete(id)`` over
    ``<workspace>/<folder>/<id>.json``.

    Files are written to a temporary name and renamed over the old one, so a crash never
    leaves half a file; they are validated when read, so a hand-edited file with a mistake
    fails naming the file and the field.
    """

    folder_name: ClassVar[str]
    kind: ClassVar[str]  # "audience", "experiment": for messages
    id_label: ClassVar[str]  # "name", "id"
    id_field: ClassVar[str]  # the definition's attribute holding its id
    error: ClassVar[type[ShopscopeError]]
    not_found: ClassVar[type[ShopscopeError]]

    @staticmethod
    def parse(data: Any) -> Any:
        """The definition from its stored JSON text (subclasses name their parser)."""
        raise NotImplementedError

    def __init__(self, workspace_path: str | Path | Any) -> None:
        root = getattr(workspace_path, "path", workspace_path)
        self.root = Path(root)
        self.folder = self.root / self.folder_name

    def _file(self, ident: str) -> Path:
        if not isinstance(ident, str) or not re.fullmatch(ID_PATTERN, ident):
            raise self.error(
                f"{ident!r} is not a valid {self.kind} {self.id_label}",
                hint="use letters, digits, _, . and - (starting with a letter or digit)")
        return self.folder / f"{ident}.json"

    def _missing(self, ident: str) -> ShopscopeError:
        saved = ", ".join(self.list()) or "none"
        return self.not_found(f"no saved {self.kind} {ident!r} in {self.folder}",
                              hint=f"saved {self.kind}s: {saved}")

    def list(self) -> list[str]:
        """Ids of the saved definitions, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if not p.name.startswith("."))

    def save(self, definition: T, *, overwrite: bool = True) -> Path:
        """Write the definition atomically; returns its file."""
        if not self.root.is_dir():
            raise WorkspaceError(f"no workspace folder at {self.root}",
                                 hint="create the workspace first: shopscope init <path>")
        ident = getattr(definition, self.id_field)
        target = self._file(ident)
        if target.exists() and not overwrite:
            raise self.error(f"{self.kind} {ident!r} already exists",
                             hint=f"pass overwrite=True or choose another {self.id_label}")
        self.folder.mkdir(exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        text = json.dumps(definition.model_dump(mode="json"),  # type: ignore[attr-defined]
                          ensure_ascii=False, indent=2)
        try:
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def load(self, ident: str) -> T:
        """Read and validate a saved definition (``not_found`` when there is none,
        ``error`` when the file is invalid or holds another definition)."""
        target = self._file(ident)
        if not target.exists():
            raise self._missing(ident)
        try:
            definition = type(self).parse(target.read_text(encoding="utf-8"))
        except self.error as exc:
            raise self.error(f"{target}: {exc.message}", hint=exc.hint) from None
        inside = getattr(definition, self.id_field)
        if inside != ident:
            raise self.error(f"{target} holds {self.kind} {inside!r}, not {ident!r}",
                             hint=f"rename the file or the {self.kind} inside it")
        return definition

    def delete(self, ident: str) -> None:
        """Remove a saved definition (``not_found`` when there is none)."""
        target = self._file(ident)
        if not target.exists():
            raise self._missing(ident)
        target.unlink()
