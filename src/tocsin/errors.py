"""The one error hierarchy: what went wrong, in the words of the use case, never of HTTP.

Every error tocsin raises on purpose is a ``TocsinError``. The front doors translate the five
kinds a person can cause (``NotFound``, ``Conflict``, ``Invalid``, ``Forbidden``, ``TooMany``)
and the one a person cannot (``Unavailable``) into their own terms: the API into a status code
(``api/errors.py``), the CLI into a message and an exit code, the console and chat into a line
a person reads. Nothing below the front doors knows which door asked.

``Invalid`` is also a ``ValueError`` and ``Unavailable`` a ``RuntimeError``, so code that
guarded a parser or a store with the built-in classes keeps working.
"""

from __future__ import annotations

from typing import Any


class TocsinError(Exception):
    """Something tocsin refused or could not do; ``message`` is written for a person."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(TocsinError):
    """What the request names does not exist (an incident, a silence, an override)."""


class Conflict(TocsinError):
    """It exists, but the action is not possible in its present state (resolve a resolved
    incident, reopen a group that has an open incident)."""


class Invalid(TocsinError, ValueError):
    """What was given is malformed or out of bounds (a matcher, a duration, a note)."""


class TooLarge(Invalid):
    """What was given is larger than a configured bound (a body, a batch, a label)."""


class Forbidden(TocsinError):
    """The acting person may not do this (their role, or the link they used)."""


class TooMany(TocsinError):
    """Too many attempts in too short a time (wrong passwords for one name): refused until
    the window passes, whatever is given."""


class Unavailable(TocsinError, RuntimeError):
    """tocsin could not do it now through no fault of the request (the database refused a
    write, the writer stopped); the same request may succeed later."""


# The HTTP status of each kind: the API answers with it (``api/errors.py``), and the remote
# CLI reads it back into the kind (``cli/remote.py``).
HTTP_STATUS: dict[type[TocsinError], int] = {
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Invalid: 422,
    Forbidden: 403,
    TooMany: 429,
    Unavailable: 503,
}
