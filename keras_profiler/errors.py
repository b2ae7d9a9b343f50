"""Errors the user can fix by changing their command."""


class UsageError(Exception):
    """Bad input: the message is one line saying what to change. Exit status 2."""
