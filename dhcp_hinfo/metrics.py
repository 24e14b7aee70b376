"""Prometheus counters of the DHCP responder (default registry; the web UI serves /metrics).

Labels are low-cardinality: ``family`` is "6" or "4", ``reason`` one of the
fixed drop reasons in :mod:`dhcp_hinfo.errors` and :mod:`dhcp_hinfo.policy`.
"""

from __future__ import annotations

from prometheus_client import Counter

RECEIVED = Counter(
    "mip6bs_dhcp_received_total", "DHCP datagrams received by the responder.", ["family"]
)
REPLIED = Counter(
    "mip6bs_dhcp_replies_total", "DHCP replies sent (Reply, Relay-reply, DHCPACK).", ["family"]
)
DROPPED = Counter(
    "mip6bs_dhcp_dropped_total", "DHCP datagrams dropped, by reason.", ["family", "reason"]
)
