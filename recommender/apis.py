"""REST API of the recommender: real-time recommendations, decision receipts and replay.

Thin callers of `recommender.assignment`; machine clients authenticate with a token
(`Authorization: Token <key>`, see /api/v1/auth/token/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deepflame_web.core.access import EVERYONE_READS, PEOPLE_WRITE, RECOMMENDATIONS
from recommender.assignment.engine import Outcome
from recommender.assignment.receipt_queue import receipts_flush
from recommender.assignment.receipts import decision_replay
from recommender.assignment.serving import (
    RecommendationInvalid,
    Serving,
    channels_known,
    recommend,
    serving_current,
    unknown_names,
)
from recommender.assignment.state import EngineUnavailable
from recommender.models import Decision


class RecommendationInputSerializer(serializers.Serializer):
    customer_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    store_id = serializers.CharField(max_length=100)
    at = serializers.DateTimeField(help_text="ISO 8601 with a time zone offset; naive is UTC")
    channel = serializers.CharField(
        max_length=50, help_text="one of the chain's ordering channels (drive_thru, kiosk, ...)"
    )
    cart = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=100
    )

    def validate_channel(self, value: str) -> str:
        """An unknown channel would match no offer's channel list silently: refuse it."""
        known = channels_known()
        if value not in known:
            raise serializers.ValidationError(
                f'Unknown channel "{value}"; known channels: {", ".join(sorted(known))}.'
            )
        return value


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _offers(outcome: Outcome, serving: Serving) -> list[dict[str, Any]]:
    names = serving.offer_names
    by_slot = {entry["slot"]: entry for entry in outcome.slots}
    return [
        {
            "offer_id": pick.offer_id,
            "name": names.get(pick.offer_id, ""),
            "slot": pick.slot,
            "slot_label": pick.slot_label,
            "goal": by_slot[pick.slot]["goal"],
            "score": pick.score,
            "goal_value": pick.goal_value,
            "fallback": pick.fallback,
            "runners_up": by_slot[pick.slot]["runners_up"],
        }
        for pick in outcome.picks
    ]


def _with_unknown_names(data: RecommendationInputSerializer) -> dict[str, Any]:
    """The serializer's errors plus an unknown store or items among the fields it accepted,
    so one answer names every bad field."""
    errors = dict(data.errors)
    raw = data.initial_data if isinstance(data.initial_data, dict) else {}
    store_id = raw.get("store_id") if "store_id" not in errors else None
    cart = raw.get("cart") if "cart" not in errors else None
    try:
        serving = serving_current()
    except EngineUnavailable:
        return errors
    names = unknown_names(
        serving,
        store_id=store_id if isinstance(store_id, str) else None,
        cart=cart if isinstance(cart, list) and all(isinstance(i, str) for i in cart) else None,
    )
    return {**errors, **names}


class RecommendationApi(APIView):
    """Offers for a customer (or a new one) at a store, time and channel, each with its
    decision receipt."""

    access = RECOMMENDATIONS

    @extend_schema(
        request=RecommendationInputSerializer,
        # 503: no model, rules or segmentation is active yet, so nothing can be served.
        responses={200: dict, 400: dict, 503: dict},
    )
    def post(self, request: Request) -> Response:
        data = RecommendationInputSerializer(data=request.data)
        if not data.is_valid():
            return Response(_with_unknown_names(data), status=400)
        values = data.validated_data
        try:
            decision_id, outcome, serving = recommend(
                customer_id=values.get("customer_id") or None,
                store_id=values["store_id"],
                at=_utc(values["at"]),
                channel=values["channel"],
                cart=values.get("cart", []),
            )
        except RecommendationInvalid as exc:
            return Response(exc.problems, status=400)
        except EngineUnavailable as exc:
            return Response({"detail": str(exc)}, status=503)
        situation = outcome.situation
        key = situation.segment_key
        return Response(
            {
                "decision_id": decision_id,
                "receipt_url": request.build_absolute_uri(f"/api/v1/receipts/{decision_id}/"),
                "customer": {
                    "customer_id": situation.customer_id,
                    "known": situation.known_customer,
                    "new_customer": not situation.known_customer,
                    "segment_key": key,
                    "segment_name": serving.segment_names.get(key) if key is not None else None,
                },
                "context": outcome.context,
                "rule_version": serving.engine.rule_version_number,
                "model_version": serving.engine.model_version,
                "scorer": serving.engine.scorer_name,
                "note": outcome.note,
                "offers": _offers(outcome, serving),
                "excluded_count": len(outcome.excluded),
            }
        )


def receipt_json(decision: Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.pk,
        "source": decision.source,
        "batch": decision.batch_id,
        "customer_id": decision.customer_id,
        "known_customer": decision.known_customer,
        "at": decision.at.isoformat(),
        "context": decision.context,
        "segment_key": decision.segment_key,
        "trajectory": decision.trajectory,
        "rule_version": decision.rule_version.number if decision.rule_version else None,
        "model_version": decision.model.version,
        "scorer": decision.scored_by,
        "catalog": decision.catalog.sha256,
        "history": decision.history,
        "purchases": decision.purchases,
        "holdout": decision.holdout,
        "note": decision.note,
        "slots": decision.slots,
        "excluded": decision.exclusions.excluded,
        "created_at": decision.created_at.isoformat(),
    }


def _receipt(pk: int) -> Decision:
    receipts_flush()  # an answer of a moment ago may still be queued
    return get_object_or_404(
        Decision.objects.select_related("rule_version", "model", "catalog", "exclusions"), pk=pk
    )


class ReceiptApi(APIView):
    """A decision receipt: inputs (recent events, long-horizon purchases), segment trajectory,
    rule version and slots, model version and the scorer it served, chosen offers with scores,
    runners-up, and each excluded offer with its reason."""

    access = EVERYONE_READS

    @extend_schema(responses=dict)
    def get(self, request: Request, pk: int) -> Response:
        return Response(receipt_json(_receipt(pk)))


class ReceiptReplayApi(APIView):
    """Decide again from the receipt's own inputs and say whether the result is the same."""

    access = PEOPLE_WRITE

    # 409: the receipt's model can no longer be loaded (its files were removed).
    @extend_schema(request=None, responses={200: dict, 404: dict, 409: dict})
    def post(self, request: Request, pk: int) -> Response:
        try:
            replay = decision_replay(_receipt(pk))
        except EngineUnavailable as exc:
            return Response({"detail": str(exc)}, status=409)
        return Response(
            {
                "decision_id": pk,
                "same": replay.same,
                "recorded": replay.recorded,
                "replayed": replay.replayed,
            }
        )
