"""Account-level failures a collector reports: each kind is what `status` and the run show."""
from __future__ import annotations


class CollectorError(Exception):
    """An account-level failure; the message must tell a person what to do."""

    kind = "failed"
    retriable = False

    def __init__(self, message: str, *, retry_after: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after  # ISO UTC, when the platform said to come back


class MissingCredentials(CollectorError):
    kind = "skipped"


class RateLimited(CollectorError):
    kind = "rate_limited"


class AuthFailed(CollectorError):
    """Token expired, revoked or wrong."""

    kind = "auth"


class PermissionMissing(CollectorError):
    kind = "permission"


class TransientError(CollectorError):
    """5xx, timeouts, broken bodies: retried with backoff, then the account fails."""

    kind = "failed"
    retriable = True


class PaginationLoop(CollectorError):
    kind = "failed"
