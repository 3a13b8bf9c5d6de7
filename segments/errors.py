from deepflame_web.core.errors import DomainError


class SegmentsError(DomainError):
    """A refused request in segments; views and APIs show its message as it is."""
