"""taskiq's ``taskiq.schedule_sources`` path: the schedule sources that ship with zq.

``LabelScheduleSource`` reads ``schedule=[...]`` labels of the app's tasks; a source kept in
SQLite and changed at runtime is ``zq.scheduling.sqlite_source.SQLiteScheduleSource``
(``zq.SQLiteScheduleSource``).
"""

from zq.schedule_sources.label_based import LabelScheduleSource

__all__ = ["LabelScheduleSource"]
