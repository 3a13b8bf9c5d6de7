"""API routes of the offers app (the catalog pages' routes are in offers/urls.py)."""

from django.urls import path

from offers import apis
from offers.rules import apis as rule_apis

api_urlpatterns = [
    path("offers/", apis.OfferListApi.as_view(), name="api_offer_list"),
    path("offers/<str:offer_id>/", apis.OfferDetailApi.as_view(), name="api_offer_detail"),
    path("rule-sets/", rule_apis.RuleSetListApi.as_view(), name="api_rule_set_list"),
    path("rule-sets/<int:pk>/", rule_apis.RuleSetDetailApi.as_view(), name="api_rule_set_detail"),
    path(
        "rule-sets/<int:pk>/validate/",
        rule_apis.RuleSetValidateApi.as_view(),
        name="api_rule_set_validate",
    ),
    path(
        "rule-sets/<int:pk>/suggest/",
        rule_apis.RuleSetSuggestApi.as_view(),
        name="api_rule_set_suggest",
    ),
    path(
        "rule-sets/<int:pk>/preview/",
        rule_apis.RuleSetPreviewApi.as_view(),
        name="api_rule_set_preview",
    ),
    path(
        "rule-sets/<int:pk>/publish/",
        rule_apis.RuleSetPublishApi.as_view(),
        name="api_rule_set_publish",
    ),
    path("rule-sets/<int:pk>/diff/", rule_apis.RuleVersionDiffApi.as_view(), name="api_rule_diff"),
    path(
        "rule-sets/<int:pk>/versions/",
        rule_apis.RuleVersionListApi.as_view(),
        name="api_rule_version_list",
    ),
    path(
        "rule-sets/<int:pk>/versions/<int:number>/",
        rule_apis.RuleVersionDetailApi.as_view(),
        name="api_rule_version_detail",
    ),
    path(
        "rule-sets/<int:pk>/versions/<int:number>/rollback/",
        rule_apis.RuleVersionRollbackApi.as_view(),
        name="api_rule_version_rollback",
    ),
    path(
        "rule-sets/<int:pk>/versions/<int:number>/to-draft/",
        rule_apis.RuleVersionToDraftApi.as_view(),
        name="api_rule_version_to_draft",
    ),
    path("audit/", apis.AuditEntryListApi.as_view(), name="api_audit_list"),
]
