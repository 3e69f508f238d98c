"""The failures a user can act on: bad input, configuration or request.

The CLI shows these as one line and exits non-zero; anything else is a programming error
and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure whose message names the problem and what to do about it."""
