"""Formatters (``taskiq.formatters`` becomes ``zq.formatters``)."""

from zq.formatters.proxy_formatter import ProxyFormatter

__all__ = ["ProxyFormatter"]
