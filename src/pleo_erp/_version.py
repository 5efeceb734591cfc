"""The installed package version, in one place (used by the User-Agent header)."""

__version__ = "0.1.0"
