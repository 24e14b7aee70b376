"""The service layer: every rule about the store lives in exactly one function here.

The CLI, the daemon's faces and the web UI/REST API call these functions;
none of them runs SQL of its own.  Each write function takes an
:class:`~bootstrap.services.actor.Actor` for the audit log and runs in one
transaction that also writes the DNS outbox rows and bumps the change
version it affects.
"""
