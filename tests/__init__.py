"""The test suites: ``unit/`` (pure code, no root, seconds: ``make unit``), ``system/`` (real
peers, root: part of ``make test``), ``support/`` (their helpers) and ``data/`` (byte vectors)."""
