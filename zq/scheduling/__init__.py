"""Running schedules: the scheduler loop and the SQLite schedule source.

The API users write against is ``zq.scheduler`` (taskiq's path).
"""
