"""REST API of feedback (impressions, clicks, redemptions) and offer performance.

Thin callers of `recommender.assignment.feedback` and `.performance`. Sending an event
twice is safe: the first store answers 201, an identical repeat 200 with
`{"duplicate": true}`, a repeat with other content 409."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deepflame_web.core.access import EVERYONE_READS, FEEDBACK_WRITES
from deepflame_web.core.parsing import ascii_int
from recommender.assignment.feedback import (
    FeedbackConflict,
    FeedbackInvalid,
    Recorded,
    feedback_record,
)
from recommender.assignment.performance import performance_summary
from recommender.models import AssignmentBatch, FeedbackKind
from recommender.selectors import batch_active


class _FeedbackInputSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=100, help_text="the sender's id: once per event")
    customer_id = serializers.CharField(max_length=100)
    offer_id = serializers.CharField(max_length=100)
    store_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    decision_id = serializers.IntegerField(
        min_value=1, required=False, help_text="the receipt the offer came with, when known"
    )


class EventInputSerializer(_FeedbackInputSerializer):
    kind = serializers.ChoiceField(
        choices=[FeedbackKind.IMPRESSION.value, FeedbackKind.CLICK.value]
    )
    at = serializers.DateTimeField(help_text="ISO 8601 with a time zone offset; naive is UTC")


class RedemptionInputSerializer(_FeedbackInputSerializer):
    redeemed_at = serializers.DateTimeField(
        help_text="ISO 8601 with a time zone offset; naive is UTC"
    )
    order_id = serializers.CharField(max_length=100, required=False, allow_blank=True)


def feedback_json(recorded: Recorded) -> dict[str, Any]:
    event, assignment = recorded.event, recorded.event.assignment
    return {
        "duplicate": recorded.duplicate,
        "event_id": event.event_id,
        "kind": event.kind,
        "customer_id": event.customer_id,
        "offer_id": event.offer_id,
        "at": event.at.isoformat(),
        "order_id": event.order_id,
        "store_id": event.store_id,
        "assignment": None
        if assignment is None
        else {
            "decision_id": assignment.decision_id,
            "batch": assignment.batch_id,
            "slot": assignment.slot,
            "slot_label": assignment.slot_label,
            "holdout": assignment.holdout,
        },
    }


def _record(values: dict[str, Any], *, kind: str, time_field: str) -> Response:
    try:
        recorded = feedback_record(
            event_id=values["event_id"],
            kind=kind,
            customer_id=values["customer_id"],
            offer_id=values["offer_id"],
            at=values[time_field],
            order_id=values.get("order_id", ""),
            store_id=values.get("store_id", ""),
            decision_id=values.get("decision_id"),
        )
    except FeedbackInvalid as exc:
        problems = dict(exc.problems)
        if "at" in problems and time_field != "at":
            problems[time_field] = problems.pop("at")
        return Response(problems, status=400)
    except FeedbackConflict as exc:
        fields = [time_field if f == "at" else f for f in exc.fields]
        return Response({"detail": str(exc), "fields": fields}, status=409)
    return Response(feedback_json(recorded), status=200 if recorded.duplicate else 201)


# 201 for a new event, 200 for one already recorded under the same event_id.
FEEDBACK_RESPONSES = {200: dict, 201: dict, 400: dict, 409: dict}


class EventApi(APIView):
    """An impression or a click of an offer, joined to the assignment it answers."""

    access = FEEDBACK_WRITES

    @extend_schema(request=EventInputSerializer, responses=FEEDBACK_RESPONSES)
    def post(self, request: Request) -> Response:
        data = EventInputSerializer(data=request.data)
        if not data.is_valid():
            return Response(data.errors, status=400)
        values = data.validated_data
        return _record(values, kind=values["kind"], time_field="at")


class RedemptionApi(APIView):
    """A redemption of an offer, joined to the assignment it answers (kept without one)."""

    access = FEEDBACK_WRITES

    @extend_schema(request=RedemptionInputSerializer, responses=FEEDBACK_RESPONSES)
    def post(self, request: Request) -> Response:
        data = RedemptionInputSerializer(data=request.data)
        if not data.is_valid():
            return Response(data.errors, status=400)
        return _record(
            data.validated_data, kind=FeedbackKind.REDEMPTION.value, time_field="redeemed_at"
        )


class PerformanceApi(APIView):
    """Treated against holdout redemption rates and lift of the active batch (or ?batch=N),
    per segment, slot, offer, daypart and tier."""

    access = EVERYONE_READS

    @extend_schema(
        parameters=[OpenApiParameter("batch", OpenApiTypes.INT, required=False)],
        responses=dict,
    )
    def get(self, request: Request) -> Response:
        given = request.query_params.get("batch")
        if given is None:
            batch = batch_active()
            if batch is None:
                return Response({"detail": "No assignment batch is active yet."}, status=404)
        else:
            number = ascii_int(given)
            if number is None:
                return Response({"batch": ["must be a batch number"]}, status=400)
            batch = AssignmentBatch.objects.filter(pk=number, activated_at__isnull=False).first()
            if batch is None:
                return Response({"detail": f"No activated batch {given}."}, status=404)
        return Response(performance_summary(batch=batch))
