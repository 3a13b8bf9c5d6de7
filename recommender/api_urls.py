"""API routes of the recommender app."""

from django.urls import path

from recommender import apis, feedback_apis

api_urlpatterns = [
    path("recommendations/", apis.RecommendationApi.as_view(), name="api_recommendations"),
    path("receipts/<int:pk>/", apis.ReceiptApi.as_view(), name="api_receipt"),
    path("receipts/<int:pk>/replay/", apis.ReceiptReplayApi.as_view(), name="api_receipt_replay"),
    path("events/", feedback_apis.EventApi.as_view(), name="api_feedback_events"),
    path("redemptions/", feedback_apis.RedemptionApi.as_view(), name="api_redemptions"),
    path("performance/", feedback_apis.PerformanceApi.as_view(), name="api_performance"),
]
