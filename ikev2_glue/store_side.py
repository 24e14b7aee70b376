"""The store operations the bridge makes, bound once at the face's edge.

Three of them decrypt secrets and therefore need the store's key from
``Settings``; binding them here lets the bridge carry only its
:class:`~.settings.ViciSettings` inwards, never the whole ``Settings``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from bootstrap.config import Settings
from bootstrap.context import Store
from bootstrap.services import bundle, radius


@dataclass(frozen=True, slots=True)
class StoreSide:
    store: Store
    ha_credentials: Callable[[str], bundle.HaCredentials]
    """The HA's certificate and key (issued on first use) and the store's CA."""
    ha_subscribers: Callable[[str], list[bundle.SubscriberCredentials]]
    """The active subscribers of an HA with their EAP secrets."""
    fill_nt_hashes: Callable[[], int]
    """Radius mode: NT hashes of new EAP secrets."""

    @classmethod
    def of(cls, store: Store, settings: Settings) -> StoreSide:
        return cls(
            store=store,
            ha_credentials=partial(bundle.ha_credentials, store, settings),
            ha_subscribers=partial(bundle.ha_subscribers, store, settings),
            fill_nt_hashes=partial(radius.fill_nt_hashes, store, settings),
        )
