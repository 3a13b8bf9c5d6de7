from django.urls import path

from offers import views
from offers.rules import views as rule_views

urlpatterns = [
    path("offers/", views.offer_list, name="offer_list"),
    path("offers/new/", views.offer_create, name="offer_create"),
    path("offers/new/validate/", views.offer_validate, name="offer_validate_new"),
    path("offers/<int:pk>/", views.offer_detail, name="offer_detail"),
    path("offers/<int:pk>/edit/", views.offer_edit, name="offer_edit"),
    path("offers/<int:pk>/validate/", views.offer_validate, name="offer_validate"),
    path("offers/<int:pk>/image/", views.offer_image, name="offer_image"),
    path("stores/", views.store_list, name="store_list"),
    path("dayparts/", views.daypart_list, name="daypart_list"),
    path("rules/", rule_views.rule_set_page, name="rules"),
    path("rules/start/", rule_views.rule_set_start, name="rules_start"),
    path("rules/check/", rule_views.rules_check, name="rules_check"),
    path("rules/edit/", rule_views.rules_edit, name="rules_edit"),
    path("rules/save/", rule_views.rules_save, name="rules_save"),
    path("rules/suggest/", rule_views.rules_suggest, name="rules_suggest"),
    path("rules/preview/", rule_views.rules_preview_start, name="rules_preview"),
    path(
        "rules/preview/<int:run_id>/", rule_views.rules_preview_status, name="rules_preview_status"
    ),
    path("rules/publish/", rule_views.rules_publish, name="rules_publish"),
    path("rules/discard/", rule_views.rules_discard, name="rules_discard"),
    path("rules/versions/", rule_views.rule_versions, name="rule_versions"),
    path(
        "rules/versions/<int:number>/rollback/",
        rule_views.rule_version_rollback_page,
        name="rule_version_rollback",
    ),
    path("rules/diff/", rule_views.rules_diff_page, name="rules_diff"),
    path("audit/", rule_views.audit_log, name="audit_log"),
]
