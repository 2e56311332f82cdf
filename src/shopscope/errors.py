"""Project errors.

Each error subclasses the matching built-in so callers can catch either. The CLI prints
``message`` and ``hint`` on one line each instead of a traceback.

An error a user can cause from the dashboard carries a ``code`` and its arguments
(``code_args``): the English ``message`` (logs, CLI, API) is built from the template in
:data:`MESSAGES`, and the dashboard translates the message ``error.<code>`` of the gettext
catalogue with the same arguments, so no English text is ever rewritten by pattern.

Examples
--------
>>> e = OptionError(code="window_positive", args={"window": "'0m'"}, hint="e.g. 30m")
>>> e.message, e.code, e.code_args
("window must be positive, not '0m'", 'window_positive', {'window': "'0m'"})
"""

from __future__ import annotations

from collections.abc import Mapping

#: English templates of the coded errors (``str.format`` fields = the error's arguments).
#: Each code has the message ``error.<code>`` in both catalogues (a test checks it).
MESSAGES: dict[str, str] = {
    "event_type_unknown": "unknown event type {event}; known: {known}",
    "exclude_unknown": "cannot exclude unknown event type(s) {events}; known: {known}",
    "funnel_few_steps": "a funnel needs at least 2 steps, got {n}: {steps}",
    "window_format": "window must look like 30m, 24h or 7d, not {window}",
    "window_positive": "window must be positive, not {window}",
    "step_filter": "step filter {part} in {step} is not name=value",
    "property_name": "not a property name: {name} (letters, digits, _ . - only)",
    "filter_no_values": "filter on {name} lists no values",
    "path_start_excluded": "start step {step} is of an excluded event type",
    "path_end_excluded": "end step {step} is of an excluded event type",
    "path_too_short": "a path from start to end needs length >= 2",
    "customer_column_unknown": "unknown customer column in by={by}",
    "audience_field_unknown": "audience {audience}, filter {n}: unknown field {field}{maybe}",
}


class ShopscopeError(Exception):
    """Base class. ``hint`` says how to fix the problem; ``code`` + ``args`` (optional) name
    the message for translation, and build ``message`` from :data:`MESSAGES` when it is
    not given. (The arguments are kept as ``code_args``: ``Exception.args`` is taken.)"""

    exit_code = 1

    def __init__(self, message: str | None = None, hint: str | None = None, *,
                 code: str | None = None, args: Mapping[str, object] | None = None) -> None:
        code_args = dict(args or {})
        if message is None:
            if code not in MESSAGES:
                raise TypeError(f"an error needs a message or a known code, not {code!r}")
            message = MESSAGES[code].format(**code_args)
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:  # subclasses with their own ``code`` attribute keep theirs
            self.code = code
        self.code_args = code_args


class SchemaError(ShopscopeError, ValueError):
    """A table or column does not match the canonical schema."""

    exit_code = 3


class ValidationFailed(ShopscopeError, ValueError):
    """Input rows broke the rules; ``report`` lists every problem."""

    exit_code = 4

    def __init__(self, message: str, report, hint: str | None = None) -> None:
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
