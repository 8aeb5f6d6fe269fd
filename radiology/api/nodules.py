"""Nodules marked on a CT: mark one (the worker scores it), list them, fetch a Grad-CAM."""
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from radiology import nodules
from radiology.models import Nodule
from studies import selectors
from studies.media import serve_protected


class NoduleSerializer(serializers.ModelSerializer):
    positive = serializers.BooleanField(allow_null=True, read_only=True)

    class Meta:
        model = Nodule
        fields = ["id", "z", "y", "x", "status", "probability", "threshold", "positive", "model",
                  "failure_reason", "created_at"]


class NoduleListApi(APIView):
    class InputSerializer(serializers.Serializer):
        z = serializers.IntegerField(min_value=0, help_text="slice of the viewer's volume")
        y = serializers.IntegerField(min_value=0, help_text="row of the viewer's volume")
        x = serializers.IntegerField(min_value=0, help_text="column of the viewer's volume")

        class Meta:
            ref_name = "NoduleMarkInput"

    @extend_schema(responses=NoduleSerializer(many=True))
    def get(self, request: Request, study_id) -> Response:
        study = selectors.study_get_for(user=request.user, study_id=study_id)
        if not permissions.may_see_findings(request.user, study):
            raise Http404
        return Response(NoduleSerializer(study.nodules.all(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: NoduleSerializer})
    def post(self, request: Request, study_id) -> Response:
        study = selectors.study_get_for(user=request.user, study_id=study_id)
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        point = (given.validated_data["z"], given.validated_data["y"], given.validated_data["x"])
        nodule = nodules.nodule_mark(user=request.user, study=study, point=point)
        return Response(NoduleSerializer(nodule).data, status=status.HTTP_201_CREATED)


class NoduleHeatmapApi(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, nodule_id: int):
        nodule = Nodule.objects.filter(id=nodule_id).only("study_id", "heatmap").first()
        if nodule is None or not nodule.heatmap:
            raise Http404
        study = selectors.study_get_for(user=request.user, study_id=nodule.study_id)
        if not permissions.may_see_findings(request.user, study):
            raise Http404
        return serve_protected(nodule.heatmap)
