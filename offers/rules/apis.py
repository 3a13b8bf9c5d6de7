"""REST API for rule sets, versions, validation, suggestions, preview, publish and rollback.

Thin callers of `offers.rules.services`; one view per operation.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deepflame_web.core.access import MARKETERS_WRITE
from deepflame_web.core.parsing import ascii_int
from deepflame_web.core.services import RunAlreadyActive
from offers.apis import validation_error_response
from offers.errors import OffersError
from offers.models import RuleSet, RuleVersion
from offers.rules.diff import rules_diff
from offers.rules.document import DocumentInvalid
from offers.rules.services import (
    DraftConflict,
    RulesInvalid,
    rule_preview_start,
    rule_set_draft_create,
    rule_set_draft_from_version,
    rule_set_draft_update,
    rule_set_publish,
    rule_set_suggest,
    rule_set_validate,
    rule_version_rollback,
    rule_versions_diff,
)
from offers.rules.validation import rules_validate
from segments.models import SegmentDefinition
from segments.selectors import segmentation_active


def _invalid(error: DjangoValidationError) -> Response:
    if isinstance(error, DocumentInvalid):
        return Response({"document": [p.message for p in error.problems]}, status=400)
    return validation_error_response(error)


def _conflict(error: DraftConflict) -> Response:
    rule_set = error.rule_set
    return Response(
        {
            "detail": str(error),
            "revision": rule_set.revision,
            "updated_by": rule_set.updated_by.get_username() if rule_set.updated_by else None,
            "updated_at": rule_set.updated_at,
            "document": rule_set.document,
        },
        status=409,
    )


class RuleSetSerializer(serializers.ModelSerializer):
    definition_version = serializers.IntegerField(source="definition.version")
    updated_by = serializers.CharField(source="updated_by.username", default=None, allow_null=True)
    published_version = serializers.SerializerMethodField()

    class Meta:
        model = RuleSet
        fields = [
            "id",
            "definition_version",
            "revision",
            "document",
            "updated_by",
            "updated_at",
            "created_at",
            "published_version",
        ]

    def get_published_version(self, rule_set: RuleSet) -> int | None:
        latest = rule_set.versions.order_by("-number").values_list("number", flat=True).first()
        return latest


class RuleSetCreateSerializer(serializers.Serializer):
    definition_version = serializers.IntegerField(
        required=False, help_text="default: the active segmentation"
    )
    document = serializers.JSONField(required=False)


class DraftSaveSerializer(serializers.Serializer):
    document = serializers.JSONField()
    revision = serializers.IntegerField(help_text="the revision you loaded")


class RevisionSerializer(serializers.Serializer):
    revision = serializers.IntegerField(help_text="the revision you loaded")


class IssueSerializer(serializers.Serializer):
    level = serializers.CharField()
    code = serializers.CharField()
    segment_key = serializers.IntegerField(allow_null=True)
    segment = serializers.CharField()
    slot = serializers.IntegerField(allow_null=True)
    slot_label = serializers.CharField()
    message = serializers.CharField()


class ValidationOutputSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text="no errors (warnings allowed)")
    error_count = serializers.IntegerField()
    warning_count = serializers.IntegerField()
    issues = IssueSerializer(many=True)


class DocumentInputSerializer(serializers.Serializer):
    document = serializers.JSONField()


class PreviewInputSerializer(serializers.Serializer):
    on = serializers.DateField(required=False, help_text="the day to preview; default today")


class RunStartedSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()


class PublishInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, help_text="what changes and why (required)")
    revision = serializers.IntegerField(
        help_text="the draft revision you reviewed (required); refused if it changed"
    )


class RuleVersionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", default=None, allow_null=True)
    restored_from = serializers.IntegerField(
        source="restored_from.number", default=None, allow_null=True
    )

    class Meta:
        model = RuleVersion
        fields = [
            "number",
            "author",
            "created_at",
            "note",
            "restored_from",
            "draft_revision",
            "document",
        ]


class RollbackInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


def _validation_output(issues: list[Any]) -> dict[str, Any]:
    errors = sum(1 for i in issues if i.level == "error")
    return {
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": len(issues) - errors,
        "issues": [i.as_json() for i in issues],
    }


class RuleSetListApi(APIView):
    """Rule sets, one per segmentation; POST creates the draft of one (default: active), or
    returns the existing one with 200."""

    access = MARKETERS_WRITE

    @extend_schema(responses=RuleSetSerializer(many=True))
    def get(self, request: Request) -> Response:
        rule_sets = RuleSet.objects.select_related("definition", "updated_by")
        return Response(RuleSetSerializer(rule_sets, many=True).data)

    @extend_schema(
        request=RuleSetCreateSerializer, responses={200: RuleSetSerializer, 201: RuleSetSerializer}
    )
    def post(self, request: Request) -> Response:
        data = RuleSetCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = data.validated_data.get("definition_version")
        definition = (
            SegmentDefinition.objects.filter(version=version).first()
            if version is not None
            else segmentation_active()
        )
        if definition is None:
            return Response({"detail": "No such segmentation; run a segmentation first."}, 404)
        existing = RuleSet.objects.filter(definition=definition).first()
        if existing is not None:
            return Response(RuleSetSerializer(existing).data, status=200)
        try:
            rule_set = rule_set_draft_create(
                definition=definition,
                user=request.user,
                document=data.validated_data.get("document"),
            )
        except DjangoValidationError as error:
            return _invalid(error)
        return Response(RuleSetSerializer(rule_set).data, status=201)


def _rule_set(pk: int) -> RuleSet:
    return get_object_or_404(RuleSet.objects.select_related("definition", "updated_by"), pk=pk)


class RuleSetDetailApi(APIView):
    """The draft; PUT saves it if `revision` is still the latest, else 409 with who saved."""

    access = MARKETERS_WRITE

    @extend_schema(responses=RuleSetSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(RuleSetSerializer(_rule_set(pk)).data)

    @extend_schema(request=DraftSaveSerializer, responses={200: RuleSetSerializer, 409: None})
    def put(self, request: Request, pk: int) -> Response:
        rule_set = _rule_set(pk)
        data = DraftSaveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            saved = rule_set_draft_update(
                rule_set=rule_set,
                document=data.validated_data["document"],
                expected_revision=data.validated_data["revision"],
                user=request.user,
            )
        except DraftConflict as conflict:
            return _conflict(conflict)
        except DjangoValidationError as error:
            return _invalid(error)
        return Response(RuleSetSerializer(saved).data)


class RuleSetValidateApi(APIView):
    """GET validates the saved draft; POST validates a document not saved yet (live checks)."""

    access = MARKETERS_WRITE

    @extend_schema(responses=ValidationOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(_validation_output(rule_set_validate(rule_set=_rule_set(pk))))

    @extend_schema(request=DocumentInputSerializer, responses=ValidationOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        rule_set = _rule_set(pk)
        data = DocumentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issues = rules_validate(
            document=data.validated_data["document"], definition=rule_set.definition
        )
        return Response(_validation_output(issues))


class RuleSetSuggestApi(APIView):
    """Replace the draft with rules suggested from segment profiles and redemptions."""

    access = MARKETERS_WRITE

    @extend_schema(request=RevisionSerializer, responses={200: RuleSetSerializer, 409: None})
    def post(self, request: Request, pk: int) -> Response:
        rule_set = _rule_set(pk)
        data = RevisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            saved = rule_set_suggest(
                rule_set=rule_set,
                user=request.user,
                expected_revision=data.validated_data["revision"],
            )
        except DraftConflict as conflict:
            return _conflict(conflict)
        return Response(RuleSetSerializer(saved).data)


class RuleSetPreviewApi(APIView):
    """Start a preview run of the saved draft; follow it at /api/v1/runs/<run_id>/."""

    access = MARKETERS_WRITE

    @extend_schema(request=PreviewInputSerializer, responses={202: RunStartedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        rule_set = _rule_set(pk)
        data = PreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = rule_preview_start(
                rule_set=rule_set, user=request.user, on=data.validated_data.get("on")
            )
        except RunAlreadyActive as active:
            return Response({"detail": str(active), "run_id": active.active.pk}, status=409)
        return Response({"run_id": run.pk}, status=status.HTTP_202_ACCEPTED)


class RuleSetPublishApi(APIView):
    """Publish the draft as the next version; 400 with the issues when it has errors."""

    access = MARKETERS_WRITE

    @extend_schema(request=PublishInputSerializer, responses={201: RuleVersionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        rule_set = _rule_set(pk)
        data = PublishInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            version = rule_set_publish(
                rule_set=rule_set,
                author=request.user,
                note=data.validated_data["note"],
                expected_revision=data.validated_data["revision"],
            )
        except DraftConflict as conflict:
            return _conflict(conflict)
        except RulesInvalid as invalid:
            return Response(
                {"detail": str(invalid), **_validation_output(invalid.issues)}, status=400
            )
        except OffersError as refused:
            return Response({"detail": str(refused)}, status=400)
        except IntegrityError:
            return Response({"detail": "Another publish happened at the same time; retry."}, 409)
        return Response(RuleVersionSerializer(version).data, status=201)


class RuleVersionListApi(generics.ListAPIView):
    access = MARKETERS_WRITE
    serializer_class = RuleVersionSerializer

    def get_queryset(self) -> Any:
        return RuleVersion.objects.filter(rule_set_id=self.kwargs["pk"]).select_related(
            "author", "restored_from"
        )


def _version(pk: int, number: int) -> RuleVersion:
    return get_object_or_404(
        RuleVersion.objects.select_related("rule_set", "author", "restored_from"),
        rule_set_id=pk,
        number=number,
    )


class RuleVersionDetailApi(APIView):
    access = MARKETERS_WRITE

    @extend_schema(responses=RuleVersionSerializer)
    def get(self, request: Request, pk: int, number: int) -> Response:
        return Response(RuleVersionSerializer(_version(pk, number)).data)


class RuleVersionRollbackApi(APIView):
    """Republish this version's content as a new version."""

    access = MARKETERS_WRITE

    @extend_schema(request=RollbackInputSerializer, responses={201: RuleVersionSerializer})
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = _version(pk, number)
        data = RollbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            restored = rule_version_rollback(
                version=version, author=request.user, note=data.validated_data["note"]
            )
        except RulesInvalid as invalid:
            return Response(
                {"detail": str(invalid), **_validation_output(invalid.issues)}, status=400
            )
        except IntegrityError:
            return Response({"detail": "Another publish happened at the same time; retry."}, 409)
        return Response(RuleVersionSerializer(restored).data, status=201)


class RuleVersionToDraftApi(APIView):
    """Start editing from this version: its document replaces the draft (optimistic lock)."""

    access = MARKETERS_WRITE

    @extend_schema(request=RevisionSerializer, responses={200: RuleSetSerializer, 409: None})
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = _version(pk, number)
        data = RevisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            saved = rule_set_draft_from_version(
                rule_set=_rule_set(pk),
                version=version,
                expected_revision=data.validated_data["revision"],
                user=request.user,
            )
        except DraftConflict as conflict:
            return _conflict(conflict)
        return Response(RuleSetSerializer(saved).data)


class RuleVersionDiffApi(APIView):
    """Diff of two versions (?before=1&after=3); `after=draft` compares with the draft."""

    access = MARKETERS_WRITE

    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, required=True),
            OpenApiParameter("after", str, required=True, description="a number or draft"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, pk: int) -> Response:
        rule_set = _rule_set(pk)
        before, after = (
            request.query_params.get("before", ""),
            request.query_params.get("after", ""),
        )
        before_number, after_number = ascii_int(before), ascii_int(after)
        if before_number is None or (after_number is None and after != "draft"):
            return Response(
                {"detail": "Give ?before=<version>&after=<version or draft>."}, status=400
            )
        old = _version(rule_set.pk, before_number)
        if after_number is None:
            return Response(
                {
                    "before": old.number,
                    "after": "draft",
                    **rules_diff(old.document, rule_set.document),
                }
            )
        return Response(rule_versions_diff(before=old, after=_version(rule_set.pk, after_number)))
