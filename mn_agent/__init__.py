"""``mip6-mn``: the mobile node's agent (runs on the MN, next to its charon; see README.md).

It finds the node's home agents the way RFC 5026 and RFC 6610 intend (DHCPv6
home information and ``_mip6._ipv6`` SRV), points charon at the best one
over VICI and moves on when that HA fails.  Pure parts: :mod:`.answers`
(DHCPv6 request/reply and SRV ordering) and :mod:`.choice` (which HA next);
thin I/O: :mod:`.discover` (UDP, DNS), :mod:`.charon` (swanctl + VICI),
:mod:`.cli` (the loop).  It imports nothing of the hub: only the DHCPv6
codec :mod:`dhcp_hinfo.wire6`, which is pure and shared on purpose.
"""
