from offers.models import RuleSet
from segments.models import SegmentDefinition


def rule_set_for_definition(*, definition: SegmentDefinition | None) -> RuleSet | None:
    if definition is None:
        return None
    return (
        RuleSet.objects.select_related("definition", "updated_by")
        .filter(definition=definition)
        .first()
    )
