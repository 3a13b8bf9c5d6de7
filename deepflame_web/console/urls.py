from django.urls import path

from deepflame_web.console import views

urlpatterns = [
    path("", views.home, name="home"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/system-check/", views.system_check_start_view, name="system_check_start"),
    path("runs/retrain-segments/", views.segments_retrain_view, name="segments_retrain"),
    path("runs/retrain-model/", views.model_retrain_view, name="model_retrain"),
    path("runs/reassign-offers/", views.offers_reassign_view, name="offers_reassign"),
    path("runs/pipeline/", views.pipeline_start_view, name="pipeline_start"),
    path("runs/schedule/<str:name>/", views.schedule_update_view, name="schedule_update"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/cancel/", views.run_cancel_view, name="run_cancel"),
    path("customers/", views.customer_search, name="customer_search"),
    path("customers/<str:customer_id>/", views.customer_detail, name="customer_detail"),
]
