"""The operator web UI, REST API ``/api/v1`` and ``/metrics`` (aiohttp + Jinja2)."""
