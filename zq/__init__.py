"""zq: a brokerless distributed task queue over ZeroMQ, with taskiq's API."""

__version__ = "0.1.0"

__all__ = ["__version__"]
