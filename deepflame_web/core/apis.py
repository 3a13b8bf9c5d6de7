from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deepflame_web.core.access import ADMINS_WRITE, PUBLIC
from deepflame_web.core.api_tokens import api_token_issue
from deepflame_web.core.login_guard import (
    SignInLocked,
    client_address,
    sign_in_check,
    sign_in_failed,
    sign_in_succeeded,
)
from deepflame_web.core.models import Run
from deepflame_web.core.selectors import run_error_shown


class RunOutputSerializer(serializers.ModelSerializer):
    started_by = serializers.CharField(source="started_by.username", default=None, allow_null=True)
    error = serializers.SerializerMethodField(help_text="in full for Admins, else in a sentence")

    def get_error(self, run: Run) -> str:
        request = self.context.get("request")
        return run_error_shown(run=run, user=getattr(request, "user", None) or AnonymousUser())

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


class TokenInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TokenObtainApi(APIView):
    """Exchange a username and password for a new API token (machine clients).

    The token is shown once (only its hash is kept) and expires after API_TOKEN_TTL_DAYS.
    Failed attempts count towards the same lockout as the login page (429 while locked).
    """

    access = PUBLIC
    permission_classes = ()
    authentication_classes = ()

    @extend_schema(request=TokenInputSerializer, responses=TokenOutputSerializer)
    def post(self, request: Request) -> Response:
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username, password = data.validated_data["username"], data.validated_data["password"]
        address = client_address(request._request)
        try:
            sign_in_check(username=username, address=address)
        except SignInLocked as locked:
            return Response(
                {"detail": str(locked)},
                status=429,
                headers={"Retry-After": str(locked.retry_after_seconds)},
            )
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            sign_in_failed(username=username, address=address)
            return Response(
                {"non_field_errors": ["Unable to log in with provided credentials."]}, status=400
            )
        sign_in_succeeded(username=username, address=address)
        token, key = api_token_issue(user=user)
        return Response(TokenOutputSerializer({"token": key, "expires_at": token.expires_at}).data)
