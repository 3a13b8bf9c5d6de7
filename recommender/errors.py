from deepflame_web.core.errors import DomainError


class RecommenderError(DomainError):
    """A refused request in recommender; views and APIs show its message as it is."""
