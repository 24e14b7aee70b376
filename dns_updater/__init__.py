"""The DNS publisher: RFC 2136 updates with TSIG from the store's DNS outbox (see README.md)."""

import logging

# A library keeps quiet unless the application configures logging (bootstrapd
# does); without this, bootstrapctl would print publisher warnings on stderr
# next to its one-sentence error.
logging.getLogger(__name__).addHandler(logging.NullHandler())
