"""REST API for offers and the audit log; the rule set APIs are in `offers.rules.apis`.

Thin callers of `offers.services` and `offers.selectors`; one view per operation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deepflame_web.core.access import EVERYONE_READS, MARKETERS_WRITE
from offers import selectors
from offers.errors import OffersError
from offers.models import Offer
from offers.services import OFFER_FIELDS, OfferConflict, offer_create, offer_update


def validation_error_response(error: DjangoValidationError) -> Response:
    """400 with the messages per field, or under `detail` when they name no field."""
    if hasattr(error, "error_dict"):
        return Response(error.message_dict, status=400)
    return Response({"detail": error.messages}, status=400)


def _refused(error: OffersError) -> Response:
    return Response({"detail": str(error)}, status=400)


# Offers


class OfferSerializer(serializers.ModelSerializer):
    updated_by = serializers.CharField(source="updated_by.username", default=None, allow_null=True)

    class Meta:
        model = Offer
        fields = [*OFFER_FIELDS, "revision", "updated_by", "updated_at"]
        read_only_fields = ["image", "revision", "updated_by", "updated_at"]


def _conflict(error: OfferConflict) -> Response:
    """409 with who saved first and the offer as it is now, as a rules draft answers."""
    offer = error.offer
    return Response(
        {
            "detail": str(error),
            "revision": offer.revision,
            "updated_by": offer.updated_by.get_username() if offer.updated_by else None,
            "updated_at": offer.updated_at,
            "offer": OfferSerializer(offer).data,
        },
        status=409,
    )


REVISION_REQUIRED = (
    "Send the revision you loaded (GET gives it): without it, a change someone saved since "
    "would be overwritten without a word."
)


class OfferInputSerializer(serializers.Serializer):
    """Plain input: shapes only; the service runs the catalog's full validation. Images are
    uploaded on the offer pages; here `image` is read-only."""

    offer_id = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField()
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    pricing_tiers = serializers.ListField(child=serializers.CharField(), required=False)
    dayparts = serializers.ListField(child=serializers.CharField(), required=False)
    channels = serializers.ListField(child=serializers.CharField(), required=False)
    item_ids = serializers.ListField(child=serializers.CharField(), required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    discount_value = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True
    )
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True)
    revision = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="the revision you loaded, required to update (PUT, PATCH): refused with 409 "
        "if the offer changed since; ignored when creating",
    )


class OfferListApi(APIView):
    """Offers filtered as on the offer list page: text (q), category, tier, daypart, channel,
    and status (active, expired, upcoming) on a day (default today)."""

    access = MARKETERS_WRITE

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str),
            OpenApiParameter("category", str),
            OpenApiParameter("tier", str),
            OpenApiParameter("daypart", str),
            OpenApiParameter("channel", str),
            OpenApiParameter("status", str, enum=list(selectors.STATUSES)),
            OpenApiParameter("on", dt.date),
        ],
        responses=OfferSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            on = dt.date.fromisoformat(params["on"]) if params.get("on") else None
        except ValueError:
            return Response({"on": ["Give a date like 2026-01-31."]}, status=400)
        status_ = params.get("status", "")
        if status_ and status_ not in selectors.STATUSES:
            return Response({"status": [f"One of {', '.join(selectors.STATUSES)}."]}, status=400)
        filters = selectors.OfferFilters(
            query=params.get("q", ""),
            category=params.get("category", ""),
            tier=params.get("tier", ""),
            daypart=params.get("daypart", ""),
            channel=params.get("channel", ""),
            status=status_,
            on=on,
        )
        offers = selectors.offers_search(filters=filters, today=selectors.today())
        return Response(OfferSerializer(offers, many=True).data)

    @extend_schema(request=OfferInputSerializer, responses={201: OfferSerializer})
    def post(self, request: Request) -> Response:
        data = OfferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            offer = offer_create(user=request.user, fields=dict(data.validated_data))
        except DjangoValidationError as error:
            return validation_error_response(error)
        except OffersError as error:
            return _refused(error)
        return Response(OfferSerializer(offer).data, status=201)


class OfferDetailApi(APIView):
    access = MARKETERS_WRITE

    @extend_schema(responses=OfferSerializer)
    def get(self, request: Request, offer_id: str) -> Response:
        offer = get_object_or_404(Offer, offer_id=offer_id)
        return Response(OfferSerializer(offer).data)

    @extend_schema(request=OfferInputSerializer, responses={200: OfferSerializer, 409: None})
    def put(self, request: Request, offer_id: str) -> Response:
        return self._update(request, offer_id, partial=False)

    @extend_schema(request=OfferInputSerializer, responses={200: OfferSerializer, 409: None})
    def patch(self, request: Request, offer_id: str) -> Response:
        return self._update(request, offer_id, partial=True)

    def _update(self, request: Request, offer_id: str, *, partial: bool) -> Response:
        offer = get_object_or_404(Offer, offer_id=offer_id)
        data = OfferInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        if "revision" not in data.validated_data:
            return Response({"revision": [REVISION_REQUIRED]}, status=400)
        try:
            offer = offer_update(offer=offer, user=request.user, fields=dict(data.validated_data))
        except DjangoValidationError as error:
            return validation_error_response(error)
        except OfferConflict as error:
            return _conflict(error)
        except OffersError as error:
            return _refused(error)
        return Response(OfferSerializer(offer).data)


# Audit


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    object_repr = serializers.CharField()
    before = serializers.JSONField()
    after = serializers.JSONField()
    created_at = serializers.DateTimeField()


class AuditEntryListApi(generics.ListAPIView):
    """Every change to offers and rules, newest first (?object_type=&object_id=)."""

    access = EVERYONE_READS
    serializer_class = AuditEntrySerializer

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return selectors.audit_entries(
            object_type=params.get("object_type", ""), object_id=params.get("object_id", "")
        )
