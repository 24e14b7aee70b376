"""Whether a store error means "the store is away" (retry later) or "this request is bad".

Re-exported from :mod:`bootstrap.store.retry` for the faces, which reach the
store only through the service layer: the bridge queues a binding event
when the store is away and drops (and counts) one the store refuses.
"""

from __future__ import annotations

from ..store.retry import lost_connection, reason

__all__ = ["lost_connection", "reason"]
