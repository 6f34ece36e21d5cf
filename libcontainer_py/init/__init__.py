"""The container init: the processes forked by `create` that set the container up (see sync.py)."""
