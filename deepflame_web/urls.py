from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from deepflame_web.core.access import EVERYONE_READS, RolePermission
from deepflame_web.core.api_urls import api_urlpatterns as core_api
from deepflame_web.core.urls import urlpatterns as core_pages
from offers.api_urls import api_urlpatterns as offers_api
from recommender.api_urls import api_urlpatterns as recommender_api
from segments.api_urls import api_urlpatterns as segments_api


class SchemaApi(SpectacularAPIView):
    access = EVERYONE_READS
    permission_classes = [RolePermission]


api_v1 = [
    *core_api,
    *segments_api,
    *offers_api,
    *recommender_api,
    path("schema/", SchemaApi.as_view(), name="api_schema"),
]

urlpatterns = [
    # The API first: a real-time request resolves without trying every page's pattern.
    path("api/v1/", include(api_v1)),
    *core_pages,
    path("", include("deepflame_web.console.urls")),
    path("", include("segments.urls")),
    path("", include("offers.urls")),
    path("", include("recommender.urls")),
    path("django-admin/", admin.site.urls),
]
