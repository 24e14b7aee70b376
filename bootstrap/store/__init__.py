"""The SQL store: schema (:mod:`.models`) and engine/session handling (:mod:`.engine`)."""
