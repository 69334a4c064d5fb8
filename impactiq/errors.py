"""The one error type ImpactIQ raises for problems a user can fix.

Pages catch only this type and show its message; anything else is a bug and must surface in
tests. It subclasses ValueError (as scikit-learn's errors do) so that callers who already
handle bad values keep working.
"""


class ImpactIQError(ValueError):
    """Bad input or misuse that the user can fix; the message says what is wrong and how."""
