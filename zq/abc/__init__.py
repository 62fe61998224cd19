"""Base classes under taskiq's module paths (``taskiq.abc.*`` becomes ``zq.abc.*``)."""
