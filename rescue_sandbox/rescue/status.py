"""The Rescue API's status tokens other than OK, as an exception the HTTP layer renders."""

from __future__ import annotations


class RescueStatus(Exception):
    """An API status token other than OK (INVALIDPARAM_NODE, POLLRATEEXCEEDED, ...)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token
