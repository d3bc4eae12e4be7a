"""Exceptions that carry their meaning.

Every error the product raises on purpose derives from :class:`HotspotsError`.
Each has an HTTP status, a stable ``type`` slug (used in RFC 9457 problem
documents by the API) and a message that is safe to show a user: it says what
was expected, what was received and where (file, row, field).

Errors also subclass the matching built-in so callers can catch either, e.g.
``except ValueError`` catches :class:`InputFileError`.
"""

from __future__ import annotations

from pathlib import Path


class HotspotsError(Exception):
    """Base class: ``status`` (HTTP), ``type`` (stable slug) and a safe message."""

    status: int = 500
    type: str = "internal-error"
    #: a 5xx whose message is meant for the client (a limit, not a failure of ours)
    shown: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        """The error as plain data, for ``--json`` output and problem documents."""
        return {"type": self.type, "status": self.status, "detail": self.message}


class InputFileError(HotspotsError, ValueError):
    """A file cannot be read as what it claims to be; nothing from it is stored.

    Parameters
    ----------
    path : file that was being read
    problem : what is wrong, in plain words (what was expected, what was found)
    row : 1-based line number in the file (the header is line 1), if known
    field : column name, if the problem is in one column
    """

    status = 422
    type = "invalid-input-file"

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.row = row
        self.field = field
        self.problem = problem
        where = [f"file {self.path}"]
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {problem}")

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out.update(file=self.path, row=self.row, field=self.field)
        return out


class ProfileError(HotspotsError, ValueError):
    """A column-mapping profile (TOML) is missing, malformed or inconsistent."""

    status = 422
    type = "invalid-profile"


class ConfigurationError(HotspotsError, ValueError):
    """Settings are inconsistent, e.g. a store made with another analysis CRS."""

    status = 500
    type = "configuration-error"


class StoreError(HotspotsError, RuntimeError):
    """The store failed; the message never contains SQL text."""

    status = 500
    type = "store-error"


class StoreUnavailable(StoreError):
    """The store cannot be reached (database down, file locked by another process)."""

    status = 503
    type = "store-unavailable"


class NotFound(HotspotsError, LookupError):
    """A named thing (batch, area, profile) does not exist."""

    status = 404
    type = "not-found"


class UnstorableValue(HotspotsError, ValueError):
    """A value that cannot be kept as given (NaN in JSON, a NUL character in text):
    refused before anything is written, naming what held it."""

    status = 422
    type = "invalid-input"
