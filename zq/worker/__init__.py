"""The worker host: ``zq worker``'s supervisor and the child processes it runs.

``config`` (what a child is told), ``child`` (one worker process: ``python -m zq.worker
CONFIG``), ``supervisor`` (the main process; not an actor), ``loader`` (finding the user's code),
``reload``, ``process_pool`` and ``child_state`` (a page shared by a child and its supervisor).
This ``__init__`` stays empty so that importing the supervisor does not import the app's code.
"""
