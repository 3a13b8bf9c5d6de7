"""Issue 15, lower finding 1: publishing needs the draft revision the marketer reviewed, and
a rollback is validated as a publish is."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from offers.models import Offer, RuleSet, RuleVersion
from offers.rules.services import (
    RulesInvalid,
    rule_set_draft_create,
    rule_set_publish,
    rule_version_rollback,
)
from segments.models import SegmentDefinition
from tests.offers.test_validation import full_rules

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule_set(catalog: dict[str, Any], definition: SegmentDefinition, marketer: Any) -> RuleSet:
    return rule_set_draft_create(definition=definition, user=marketer, document=full_rules())


@pytest.fixture
def as_marketer(marketer: Any) -> Client:
    client = Client()
    client.force_login(marketer)
    return client


@pytest.fixture
def stale_version(rule_set: RuleSet, marketer: Any) -> RuleVersion:
    """Version 1 serves late-night customers offer N1, which has since left the catalog."""
    version = rule_set_publish(
        rule_set=rule_set, author=marketer, expected_revision=1, note="a test publish"
    )
    Offer.objects.filter(offer_id="N1").update(valid_to=dt.date.today() - dt.timedelta(days=1))
    return version


def test_the_api_refuses_a_publish_without_the_revision_naming_it(
    rule_set: RuleSet, as_marketer: Client
) -> None:
    response = as_marketer.post(
        f"/api/v1/rule-sets/{rule_set.pk}/publish/", {"note": "x"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {"revision": ["This field is required."]}
    assert RuleVersion.objects.count() == 0


def test_the_page_refuses_a_publish_without_the_revision(
    rule_set: RuleSet, as_marketer: Client
) -> None:
    response = as_marketer.post("/rules/publish/", {"note": "x"}, HTTP_HX_REQUEST="true")

    assert "did not say which draft revision you reviewed" in response.content.decode()
    assert RuleVersion.objects.count() == 0


def test_a_rollback_to_a_version_that_no_longer_validates_is_refused(
    stale_version: RuleVersion, marketer: Any
) -> None:
    with pytest.raises(RulesInvalid) as refused:
        rule_version_rollback(version=stale_version, author=marketer)

    assert str(refused.value).startswith("Version 1 has 1 error(s) and cannot be published:")
    assert [i.code for i in refused.value.issues if i.level == "error"] == ["slot_unfillable"]
    assert RuleVersion.objects.count() == 1


def test_the_api_answers_400_with_the_issues_for_such_a_rollback(
    stale_version: RuleVersion, as_marketer: Client
) -> None:
    response = as_marketer.post(
        f"/api/v1/rule-sets/{stale_version.rule_set_id}/versions/1/rollback/",
        {},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert (response.json()["valid"], response.json()["error_count"]) == (False, 1)
    assert RuleVersion.objects.count() == 1


def test_the_page_shows_why_such_a_rollback_was_refused(
    stale_version: RuleVersion, as_marketer: Client
) -> None:
    response = as_marketer.post("/rules/versions/1/rollback/", {"note": ""}, follow=True)

    assert "Not republished. Version 1 has 1 error(s)" in response.content.decode()
    assert RuleVersion.objects.count() == 1


def test_a_rollback_that_still_validates_is_republished(rule_set: RuleSet, marketer: Any) -> None:
    first = rule_set_publish(
        rule_set=rule_set, author=marketer, expected_revision=1, note="a test publish"
    )

    again = rule_version_rollback(version=first, author=marketer)

    assert (again.number, again.restored_from, again.document) == (2, first, first.document)
