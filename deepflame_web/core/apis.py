from rest_framework import generics, serializers
from rest_framework.authtoken.views import ObtainAuthToken

from deepflame_web.core.access import ADMINS_WRITE, PUBLIC
from deepflame_web.core.models import Run


class RunOutputSerializer(serializers.ModelSerializer):
    started_by = serializers.CharField(source="started_by.username", default=None)

    class Meta:
        model = Run
        fields = [
            "id",
            "kind",
            "status",
            "stage",
            "progress",
            "parameters",
            "result",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "log_tail",
            "error",
        ]


class RunListApi(generics.ListAPIView):
    access = ADMINS_WRITE
    serializer_class = RunOutputSerializer
    queryset = Run.objects.select_related("started_by")


class RunDetailApi(generics.RetrieveAPIView):
    access = ADMINS_WRITE
    serializer_class = RunOutputSerializer
    queryset = Run.objects.select_related("started_by")


class TokenObtainApi(ObtainAuthToken):
    """Exchange a username and password for an API token (machine clients)."""

    access = PUBLIC
    permission_classes = ()
