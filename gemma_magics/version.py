"""The package version (here, so the HTTP layer can name it without importing the package)."""

__version__ = "0.1.0"
