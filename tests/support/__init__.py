"""Helpers of the test suites, one module per area or peer, imported as ``tests.support.<module>``.

- ``store``: settings for a store URL and an example network (service layer only)
- ``pg``: the local PostgreSQL: per-run database names, create from a template, drop
- ``dhcp``: the Kea byte vectors (``tests/data/dhcp``), a sample snapshot, tshark read-back
- ``udp_probe``: a script a DHCP test runs inside its network namespace
- ``dns``: [dns] settings aimed at a test ``named``, an example network, one publisher flush
- ``named``: a real BIND 9 ``named`` on loopback (zones, TSIG key from ``tsig-keygen``)
- ``tsig``: TSIG key files for the unit tests (no BIND tools)
- ``ikev2``: the strongSwan lab (HA and MN charons), stores and a running bridge
- ``netlab``: network namespaces with random tags, charon processes, MN actions over VICI
- ``web``: a "world" (store, operators, tokens) built once and copied per test, login helpers

Fixtures live in the ``conftest.py`` next to the tests that use them; the unit tests
(``tests/unit``) may use only the modules that start no process (``dhcp`` without tshark,
``tsig``).
"""
