"""The one base of the errors a user can act on; each app raises its own subclass.

Views and APIs catch `DomainError` (or their app's subclass) and show its message as it is:
the message names what is wrong. Anything else is a bug and surfaces as one.
"""


class DomainError(ValueError):
    """A request the product refuses, with a message that names the field and the reason.

    It stays a ValueError so code that validated with ValueError keeps working while the
    apps move to their own types.
    """
