"""Utilities of a recommender-system package (no torch here)."""


def _log_api_usage_once(obj) -> None:
    """The package's usage telemetry, called from every model's constructor."""
