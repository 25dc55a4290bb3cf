"""What every module of the chat shares: the two refusals about rooms, and the id range.

A room the user may not know about is ``NotFound`` (HTTP 404), whether it does not exist
or is private and they are not in it, so that ids and names cannot be probed. A room they
can see but may not act in is ``Forbidden`` (403).
"""

MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds everywhere; bigger ones are no room


class NotFound(Exception):
    """No such room, or one the user may not know about."""


class Forbidden(Exception):
    """The user may see the room but not do this."""
