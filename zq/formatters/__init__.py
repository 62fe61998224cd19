"""Formatters (``taskiq.formatters`` becomes ``zq.formatters``)."""

from zq.formatters.json_formatter import JSONFormatter
from zq.formatters.proxy_formatter import ProxyFormatter

__all__ = ["JSONFormatter", "ProxyFormatter"]
