from django.urls import path

from recommender import preview_views, views

urlpatterns = [
    path("models/", views.model_list, name="model_list"),
    path("models/train/", views.model_train, name="model_train"),
    path("receipts/<int:pk>/", views.receipt_detail, name="receipt_detail"),
    path("receipts/<int:pk>/replay/", views.receipt_replay, name="receipt_replay"),
    path("models/<int:version>/activate/", views.model_activate_view, name="model_activate"),
    path("models/<int:version>/scorer/", views.model_scorer_view, name="model_scorer"),
    path(
        "rules/preview/<int:run_id>/page/",
        preview_views.rules_preview_page,
        name="rules_preview_page",
    ),
    path("rules/simulate/", preview_views.rules_simulate, name="rules_simulate"),
    path("performance/", views.offer_performance, name="offer_performance"),
    path(
        "performance/recount/",
        views.offer_performance_recount,
        name="offer_performance_recount",
    ),
]
