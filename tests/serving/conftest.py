"""The kit pipeline run fixture of the tracking tests (built once, cached in pytest's cache dir)."""

from tests.tracking.conftest import kit_run

__all__ = ["kit_run"]
