"""REST API for studies: the same selectors and services as the HTML pages."""
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from studies import advice, assessability, findings, selectors, services
from studies.audit import Action, audit
from studies.intake import photos
from studies.intake.scans import SEND_RADIOLOGY_ONLY, radiology_studies_create
from studies.media import serve_study_file
from studies.models import Study


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


class RadiologyResultSerializer(serializers.Serializer):
    """The AI pre-read of an X-ray or CT: decision support for the radiologist."""

    top_class = serializers.CharField(help_text="pneumonia | normal for X-rays; ct-pathology's class, or empty")
    ai_class = serializers.SerializerMethodField(help_text="the finding a radiologist agrees with or corrects")
    probabilities = serializers.DictField(child=serializers.FloatField())
    findings = serializers.JSONField()
    models = ModelInfoSerializer(many=True)
    disclaimer = serializers.SerializerMethodField()

    def get_ai_class(self, result) -> str:
        return findings.ai_class(result.study, result)

    def get_disclaimer(self, result) -> str:
        return str(advice.DISCLAIMER)


class StudyUrlsSerializer(serializers.Serializer):
    photo = serializers.URLField(allow_null=True)
    outline = serializers.URLField(allow_null=True)
    heatmap = serializers.URLField(allow_null=True)
    report = serializers.URLField(allow_null=True)


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="blurred | too_dark | too_bright | no_lesion | lesion_cut_off | "
                                           "not_a_lesion | not_a_chest_radiograph | unknown")
    message = serializers.CharField()
    advice = serializers.CharField()


class StudyOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    status = serializers.CharField()
    stage = serializers.CharField()
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    original_name = serializers.SerializerMethodField()
    urgency = serializers.SerializerMethodField(help_text="the AI's triage of an X-ray or CT; null for photos")
    review = serializers.CharField(help_text="awaiting | in_review | signed for X-rays and CT; empty for photos")
    assessable = serializers.SerializerMethodField(
        help_text="false: the models' input gate refused the image (status not_assessable; no result, see "
                  "reasons); true once a result exists; null before that")
    reasons = serializers.SerializerMethodField(help_text="why the image is not assessable, and what to do")
    result = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    def get_original_name(self, study: Study) -> str | None:
        return study.upload.original_name if study.upload else None

    def get_urgency(self, study: Study) -> str | None:
        if study.kind == Study.Kind.SKIN_PHOTO:
            return None
        return Study.Urgency(study.urgency).name.lower()

    def get_assessable(self, study: Study) -> bool | None:
        if not self._findings_visible(study) or study.status not in (Study.Status.DONE, Study.Status.NOT_ASSESSABLE):
            return None
        return study.status == Study.Status.DONE

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons(self, study: Study) -> list[dict]:
        if not self._findings_visible(study):
            return []
        return [{"code": r.code, "message": str(r.message), "advice": str(r.advice)}
                for r in assessability.study_reasons(study)]

    def _findings_visible(self, study: Study) -> bool:
        return study.kind == Study.Kind.SKIN_PHOTO or permissions.may_see_findings(self.context["request"].user, study)

    @extend_schema_field(PolymorphicProxySerializer(
        component_name="StudyResultAny", serializers=[ResultSerializer, RadiologyResultSerializer],
        resource_type_field_name=None, many=False))
    def get_result(self, study: Study) -> dict | None:
        result = getattr(study, "result", None)
        if study.status != Study.Status.DONE or result is None:
            return None
        if study.kind == Study.Kind.SKIN_PHOTO:
            return ResultSerializer(result).data
        if not permissions.may_see_findings(self.context["request"].user, study):
            return None
        return RadiologyResultSerializer(result).data

    @extend_schema_field(StudyUrlsSerializer)
    def get_urls(self, study: Study) -> dict:
        request = self.context["request"]
        available = selectors.files_visible_to(user=request.user, study=study)

        def url(kind: str, view: str) -> str | None:
            if kind not in available:
                return None
            kwargs = {"study_id": study.id} if view == "study-report" else {"study_id": study.id, "kind": kind}
            return request.build_absolute_uri(reverse(f"studies-api:{view}", kwargs=kwargs))

        return {
            "photo": url("upload", "study-file"),
            "outline": url("outline", "study-file"),
            "heatmap": url("heatmap", "study-file"),
            "report": url("report.pdf", "study-report"),
        }


class StudyListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=[(k.value, k.label) for k in Study.Kind])
        file = serializers.FileField(
            error_messages={"empty": photos.EMPTY_FILE},
            help_text="Repeat the part for several files. skin_photo: one photo. chest_xray: DICOM files "
                      "(CR/DX) or JPEG/PNG images, one study each. ct: the series' DICOM files or a zip of "
                      "them, one study per series.")
        patient_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
        patient_identifier = serializers.CharField(required=False, allow_blank=True, max_length=64)

        class Meta:
            ref_name = "StudyCreateInput"

    @extend_schema(responses=StudyOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.own_studies(user=request.user), request, view=self)
        data = StudyOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={201: PolymorphicProxySerializer(
        component_name="StudyCreated", resource_type_field_name=None,
        serializers=[StudyOutputSerializer, inline_serializer(
            "RadiologyStudiesCreated", {"studies": StudyOutputSerializer(many=True)})])})
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        kind = given.validated_data["kind"]
        files = request.FILES.getlist("file")
        if kind != Study.Kind.SKIN_PHOTO:
            return self._create_radiology(request, given.validated_data, files)
        if len(files) != 1:
            raise serializers.ValidationError({"file": [_("Send one photo per study.")]})
        study = services.study_create(
            owner=request.user,
            kind=kind,
            upload=given.validated_data["file"],
            language=request.LANGUAGE_CODE,
        )
        study = selectors.study_get_for(user=request.user, study_id=study.id)
        data = StudyOutputSerializer(study, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)

    def _create_radiology(self, request: Request, given: dict, files: list) -> Response:
        permissions.require(permissions.may_send_radiology(request.user), SEND_RADIOLOGY_ONLY)
        studies = radiology_studies_create(
            owner=request.user, kind=given["kind"], uploads=files, language=request.LANGUAGE_CODE,
            patient_name=given.get("patient_name", ""), patient_identifier=given.get("patient_identifier", ""),
            request=request,
        )
        created = (selectors.study_list_for(user=request.user)
                   .filter(id__in=[s.id for s in studies]).order_by("created_at"))
        data = StudyOutputSerializer(created, many=True, context={"request": request}).data
        return Response({"studies": data}, status=status.HTTP_201_CREATED)


class StudyDetailApi(APIView):
    @extend_schema(responses=StudyOutputSerializer)
    def get(self, request: Request, study_id) -> Response:
        study = selectors.study_get_for(user=request.user, study_id=study_id)
        return Response(StudyOutputSerializer(study, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, study_id) -> Response:
        study = selectors.study_get_for(user=request.user, study_id=study_id)
        if not permissions.may_delete(request.user, study):
            raise exceptions.PermissionDenied(_("A study in a radiologist's hands cannot be deleted."))
        services.study_delete(study=study)
        audit(request.user, study_id, Action.DELETED, request=request)
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
        study = selectors.study_get_for(user=request.user, study_id=study_id)
        return serve_study_file(request, study, kind)


class StudyReportApi(StudyFileApi):
    """The PDF report; 404 until the analysis is done."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: OpenApiResponse()})
    def get(self, request: Request, study_id, kind: str = "report.pdf"):
        return super().get(request, study_id, "report.pdf")
