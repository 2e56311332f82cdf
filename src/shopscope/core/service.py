"""What an area's service takes and needs: typed parameters and a context to run them in.

A service function is ``def name(ctx: Context, params: SomeParams) -> SomeResult``: the
parameters are a frozen pydantic model (validated once, at the edge), the result a frozen
object. The adapters (HTTP, pages, CLI) only parse input into the parameters, call the
service and render the result, so the same question gets the same answer everywhere.

The context hands out the store and a cache. The served app's context caches results by
data version and the parameters' :meth:`Params.cache_key` (``shopscope.ui.deps.AppState``);
the CLI's :class:`LocalContext` computes every time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shopscope.errors import OptionError

if TYPE_CHECKING:
    from shopscope.store import Store, Workspace

T = TypeVar("T")


class Params(BaseModel):
    """Base of every service's parameters: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def cache_key(self) -> Hashable:
        """The parameters' identity: the model's name and its canonical JSON."""
        cls = type(self)
        return (f"{cls.__module__}.{cls.__qualname__}", self.model_dump_json())


P = TypeVar("P", bound=Params)


def make(cls: type[P], **fields: object) -> P:
    """``cls(**fields)``, with a validation failure raised as an :class:`OptionError` that
    names the field (the CLI exits with 2, the API and the pages answer 422)."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        text = str(first["msg"]).removeprefix("Value error, ")
        raise OptionError(f"{where}: {text}" if where else text,
                          hint="see the allowed values in the API docs or --help") from None


class Context(Protocol):
    """Where a service runs: the workspace's store and a result cache."""

    @property
    def store(self) -> Store: ...

    @property
    def pseudonym_key(self) -> str:
        """The workspace's secret for pseudonyms of ids that are personal data."""
        ...

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T: ...


@dataclass
class LocalContext:
    """A context for one process (CLI, Python): the workspace's store, no result cache."""

    workspace: Workspace

    @property
    def store(self) -> Store:
        return self.workspace.store

    @property
    def pseudonym_key(self) -> str:
        from shopscope.auth import UserStore

        return UserStore(self.workspace.path).secret("pseudonym").hex()

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        return compute()
