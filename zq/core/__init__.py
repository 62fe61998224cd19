"""The pure core: decisions and data with no ZeroMQ, no asyncio, no clock and no I/O.

Every module here is tested by plain synchronous tests; the callers pass the time and the
random draws. The layer rule (``.importlinter``) keeps it that way.
"""
