from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from deepflame_web.core.access import EVERYONE_READS
from segments.models import Customer
from segments.selectors import customer_trajectory, segmentation_active, segments_current


class TopFeatureSerializer(serializers.Serializer):
    feature = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    z = serializers.FloatField()


class SegmentOutputSerializer(serializers.Serializer):
    key = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    size = serializers.IntegerField(help_text="customer-periods")
    is_new = serializers.BooleanField()
    is_vanished = serializers.BooleanField()
    top = TopFeatureSerializer(many=True, source="profile.top", default=list)


class SegmentationOutputSerializer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True)
    k = serializers.IntegerField(allow_null=True)
    periods = serializers.ListField(child=serializers.CharField())
    segments = SegmentOutputSerializer(many=True)


class SegmentListApi(APIView):
    """The active segmentation's segments; an empty list before the first run."""

    access = EVERYONE_READS

    @extend_schema(responses=SegmentationOutputSerializer)
    def get(self, request: Request) -> Response:
        definition = segmentation_active()
        data = {
            "version": definition.version if definition else None,
            "k": definition.k if definition else None,
            "periods": definition.periods if definition else [],
            "segments": segments_current(definition=definition),
        }
        return Response(SegmentationOutputSerializer(data).data)


class TrajectoryStepSerializer(serializers.Serializer):
    period = serializers.CharField()
    segment_key = serializers.IntegerField()
    segment_name = serializers.CharField()
    distance = serializers.FloatField()
    features = serializers.DictField(child=serializers.FloatField(allow_null=True))


class TrajectoryOutputSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    trajectory = TrajectoryStepSerializer(many=True)


class CustomerTrajectoryApi(APIView):
    """A customer's segment in each period of the active segmentation, with its features."""

    access = EVERYONE_READS

    @extend_schema(responses=TrajectoryOutputSerializer)
    def get(self, request: Request, customer_id: str) -> Response:
        customer = Customer.objects.filter(customer_id=customer_id).first()
        if customer is None:
            return Response({"detail": "No customer with this id."}, status=404)
        definition = segmentation_active()
        data = {
            "customer_id": customer.customer_id,
            "version": definition.version if definition else None,
            "trajectory": customer_trajectory(
                customer_id=customer.customer_id, definition=definition
            )
            if definition
            else [],
        }
        return Response(TrajectoryOutputSerializer(data).data)
