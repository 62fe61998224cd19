"""What survives a restart: the dispatcher's journal and the schedulers' last-fired slots."""
