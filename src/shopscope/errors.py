"""Project errors.

Each error subclasses the matching built-in so callers can catch either. The CLI prints
``message`` and ``hint`` on one line each instead of a traceback.
"""

from __future__ import annotations


class ShopscopeError(Exception):
    """Base class. ``hint`` says how to fix the problem."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SchemaError(ShopscopeError, ValueError):
    """A table or column does not match the canonical schema."""

    exit_code = 3


class ValidationFailed(ShopscopeError, ValueError):
    """Input rows broke the rules; ``report`` lists every problem."""

    exit_code = 4

    def __init__(self, message: str, report, hint: str | None = None) -> None:  # noqa: ANN001
        super().__init__(message, hint)
        self.report = report


class InputError(ShopscopeError, ValueError):
    """A file cannot be read: missing, wrong format, undecodable."""

    exit_code = 2


class WorkspaceError(ShopscopeError, FileNotFoundError):
    """No workspace where one was expected, or a broken one."""

    exit_code = 5


class UnsupportedOnEngine(ShopscopeError, NotImplementedError):
    """The engine behind the store cannot run this operation."""

    exit_code = 6


class OptionError(ShopscopeError, ValueError):
    """An analysis was asked for something it cannot do: an unknown grain, event type,
    breakdown or an impossible range."""

    exit_code = 2


class FunnelOptionError(OptionError):
    """A funnel's options are unusable: its steps, window, order, mode, breakdown, dates,
    trend grain or the step an audience dropped at. Every such error has this class, so the
    CLI exits with 2 and the API answers 422 for all of them."""

    exit_code = 2
