from deepflame_web.core.errors import DomainError


class OffersError(DomainError):
    """A refused request in offers; views and APIs show its message as it is."""
