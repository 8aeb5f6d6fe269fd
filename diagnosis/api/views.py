"""REST API for studies: the same selectors and services as the HTML pages."""
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from diagnosis import advice, imaging, selectors, services
from diagnosis.imaging import InvalidImage
from diagnosis.media import serve_protected
from diagnosis.models import Study


class ModelInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()


class UrgencySerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=[advice.SOON, advice.ROUTINE])
    advice = serializers.CharField()


class ResultSerializer(serializers.Serializer):
    top_class = serializers.CharField()
    top_class_name = serializers.SerializerMethodField()
    probabilities = serializers.DictField(child=serializers.FloatField())
    lesion_area_fraction = serializers.FloatField(allow_null=True)
    models = ModelInfoSerializer(many=True)
    urgency = serializers.SerializerMethodField()
    disclaimer = serializers.SerializerMethodField()

    def get_top_class_name(self, result) -> str:
        return advice.class_name(result.top_class)

    @extend_schema_field(UrgencySerializer)
    def get_urgency(self, result) -> dict:
        urgency = advice.urgency_for(result.probabilities)
        return {"level": urgency.level, "advice": urgency.advice}

    def get_disclaimer(self, result) -> str:
        return str(advice.DISCLAIMER)


class StudyUrlsSerializer(serializers.Serializer):
    photo = serializers.URLField(allow_null=True)
    outline = serializers.URLField(allow_null=True)
    heatmap = serializers.URLField(allow_null=True)
    report = serializers.URLField(allow_null=True)


class StudyOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    status = serializers.CharField()
    stage = serializers.CharField()
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    original_name = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    def get_original_name(self, study: Study) -> str | None:
        return study.upload.original_name if study.upload else None

    @extend_schema_field(ResultSerializer(allow_null=True))
    def get_result(self, study: Study) -> dict | None:
        result = getattr(study, "result", None)
        if study.status != Study.Status.DONE or result is None:
            return None
        return ResultSerializer(result).data

    @extend_schema_field(StudyUrlsSerializer)
    def get_urls(self, study: Study) -> dict:
        request = self.context["request"]
        available = selectors.study_available_files(study)

        def url(kind: str, view: str) -> str | None:
            if kind not in available:
                return None
            kwargs = {"study_id": study.id} if view == "study-report" else {"study_id": study.id, "kind": kind}
            return request.build_absolute_uri(reverse(f"diagnosis-api:{view}", kwargs=kwargs))

        return {
            "photo": url("upload", "study-file"),
            "outline": url("outline", "study-file"),
            "heatmap": url("heatmap", "study-file"),
            "report": url("report.pdf", "study-report"),
        }


class StudyListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=[(k.value, k.label) for k in services.ANALYSABLE_KINDS])
        file = serializers.FileField(error_messages={"empty": imaging.EMPTY_FILE})

        class Meta:
            ref_name = "StudyCreateInput"

    @extend_schema(responses=StudyOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.study_list_for(request.user), request, view=self)
        data = StudyOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={201: StudyOutputSerializer})
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            study = services.study_create(
                owner=request.user,
                kind=given.validated_data["kind"],
                upload=given.validated_data["file"],
                language=request.LANGUAGE_CODE,
            )
        except InvalidImage as exc:
            raise serializers.ValidationError({"file": [str(exc.message)]}) from exc
        study = selectors.study_get_for(request.user, study.id)
        data = StudyOutputSerializer(study, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class StudyDetailApi(APIView):
    @extend_schema(responses=StudyOutputSerializer)
    def get(self, request: Request, study_id) -> Response:
        study = selectors.study_get_for(request.user, study_id)
        return Response(StudyOutputSerializer(study, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, study_id) -> Response:
        services.study_delete(study=selectors.study_get_for(request.user, study_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class _AnyAcceptNegotiation(BaseContentNegotiation):
    """File responses bypass renderers, so any Accept header is fine; errors render as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class StudyFileApi(APIView):
    """A study's stored file: the photo (`upload`), `outline`, `heatmap` or `report.pdf`."""

    content_negotiation_class = _AnyAcceptNegotiation

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: OpenApiResponse()})
    def get(self, request: Request, study_id, kind: str):
        study = selectors.study_get_for(request.user, study_id)
        return serve_protected(selectors.study_file_for(study, kind))


class StudyReportApi(StudyFileApi):
    """The PDF report; 404 until the analysis is done."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: OpenApiResponse()})
    def get(self, request: Request, study_id, kind: str = "report.pdf"):
        return super().get(request, study_id, "report.pdf")
