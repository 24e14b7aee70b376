"""The errors the service layer raises, each mapped to one CLI exit code / HTTP status.

Messages are one sentence that names the field and the rule, fit to show an
operator as they are.
"""

from __future__ import annotations


class BootstrapError(Exception):
    """Base class: an operational error with a message for the operator."""

    exit_code = 1
    http_status = 400


class ConfigError(BootstrapError):
    """A bad config file, key or command-line usage."""

    exit_code = 2
    http_status = 400


class ValidationError(BootstrapError):
    """A field value breaks a rule (bad prefix, bad identity, ...)."""

    exit_code = 2
    http_status = 422


class NotFound(BootstrapError):
    """The named object does not exist."""

    exit_code = 1
    http_status = 404


class Conflict(BootstrapError):
    """The object already exists or the state change is not allowed."""

    exit_code = 1
    http_status = 409


class Exhausted(BootstrapError):
    """No home agent with spare capacity, or no free address left."""

    exit_code = 1
    http_status = 409


class SchemaOutOfDate(BootstrapError):
    """The database schema is behind the code."""

    exit_code = 2
    http_status = 503


class StoreUnavailable(BootstrapError):
    """The store cannot be reached (or lost the connection) and the operation did not finish.

    The message always starts with ``store unavailable:``; the CLI exits 1, the API answers 503.
    """

    exit_code = 1
    http_status = 503
