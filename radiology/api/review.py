"""REST API of the radiologist's review: the worklist, claiming, signing, addenda.

The same services as the review pages (radiology.review). A study the user cannot see is a
404; one they can see but may not review is a 403; a conflict (claimed by someone
else, already signed) is a 409; invalid input is a 400 keyed by field. The services' errors
become answers in one place (lesions_project.errors.api_exception_handler).
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from radiology import review, worklist
from studies import selectors
from studies.models import Study

CONFLICT = OpenApiResponse(description="Claimed by someone else, or already signed.")
FORBIDDEN = OpenApiResponse(description="Only radiologists and administrators review studies.")
NOT_FOUND = OpenApiResponse(description="No such study, or not visible to this user.")


class WorklistPagination(PageNumberPagination):
    page_size = worklist.PAGE_SIZE
    django_paginator_class = worklist.WorklistPaginator


class WorklistItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    modality = serializers.CharField()
    description = serializers.CharField()
    patient_name = serializers.CharField()
    patient_identifier = serializers.CharField()
    patient_age = serializers.CharField()
    patient_sex = serializers.CharField()
    study_date = serializers.DateField(allow_null=True)
    image_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    status = serializers.CharField()
    urgency = serializers.IntegerField()
    urgency_label = serializers.CharField(source="get_urgency_display")
    review = serializers.CharField()
    claimed_by = serializers.CharField(source="claimed_by.username", allow_null=True, default=None)
    claimed_at = serializers.DateTimeField(allow_null=True)
    ai_class = serializers.SerializerMethodField()
    ai_class_name = serializers.SerializerMethodField()
    ai_top_probability = serializers.SerializerMethodField()

    def get_ai_class(self, study: Study) -> str:
        return worklist.ai_summary(study=study).code

    def get_ai_class_name(self, study: Study) -> str:
        return worklist.ai_summary(study=study).name

    def get_ai_top_probability(self, study: Study) -> float | None:
        return worklist.ai_summary(study=study).top_probability


class ReviewStateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    review = serializers.CharField()
    claimed_by = serializers.CharField(source="claimed_by.username", allow_null=True, default=None)
    claimed_at = serializers.DateTimeField(allow_null=True)


class AddendumOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField(source="author_name")
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReportOutputSerializer(serializers.Serializer):
    study = serializers.UUIDField(source="study_id")
    radiologist = serializers.CharField(source="radiologist_name")
    agree = serializers.BooleanField()
    corrected_class = serializers.CharField()
    impression = serializers.CharField()
    ai_findings = serializers.JSONField()
    signed_at = serializers.DateTimeField()
    addenda = AddendumOutputSerializer(many=True, source="addenda.all")


class WorklistApi(APIView):
    pagination_class = WorklistPagination  # read by the schema generator too

    class FilterSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=selectors.RADIOLOGY_KINDS, required=False)
        review = serializers.ChoiceField(
            choices=[Study.Review.AWAITING, Study.Review.IN_REVIEW, Study.Review.SIGNED], required=False,
            help_text="default: awaiting and in review",
        )
        mine = serializers.BooleanField(required=False, default=False, help_text="claimed by me")
        date_from = serializers.DateField(required=False, help_text="uploaded on or after this day")
        date_to = serializers.DateField(required=False, help_text="uploaded on or before this day")

        class Meta:
            ref_name = "WorklistFilter"

    @extend_schema(parameters=[FilterSerializer], responses={200: WorklistItemSerializer(many=True), 403: FORBIDDEN})
    def get(self, request: Request) -> Response:
        review.require_reviewer(request.user)
        given = self.FilterSerializer(data=request.query_params)
        given.is_valid(raise_exception=True)
        studies = worklist.worklist_for(user=request.user, **given.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(studies, request, view=self)
        return paginator.get_paginated_response(WorklistItemSerializer(page, many=True).data)


class StudyClaimApi(APIView):
    @extend_schema(request=None, responses={200: ReviewStateSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
    def post(self, request: Request, study_id) -> Response:
        study = _reviewable_study(request, study_id)
        study = review.study_claim(user=request.user, study=study, request=request)
        return Response(ReviewStateSerializer(study).data)


class StudyReleaseApi(APIView):
    @extend_schema(request=None, responses={200: ReviewStateSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
    def post(self, request: Request, study_id) -> Response:
        study = _reviewable_study(request, study_id)
        study = review.study_release(user=request.user, study=study, request=request)
        return Response(ReviewStateSerializer(study).data)


class StudySignApi(APIView):
    class InputSerializer(serializers.Serializer):
        agree = serializers.BooleanField(help_text="true: the AI's finding is right; false: corrected_class is")
        impression = serializers.CharField(allow_blank=True, trim_whitespace=False)
        corrected_class = serializers.CharField(required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "ReportSignInput"

    @extend_schema(request=InputSerializer, responses={201: ReportOutputSerializer, 403: FORBIDDEN,
                                                       404: NOT_FOUND, 409: CONFLICT})
    def post(self, request: Request, study_id) -> Response:
        study = _reviewable_study(request, study_id)
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        report = review.report_sign(user=request.user, study=study, request=request, **given.validated_data)
        return Response(ReportOutputSerializer(report).data, status=status.HTTP_201_CREATED)


class StudyAddendumApi(APIView):
    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(allow_blank=True, trim_whitespace=False)

        class Meta:
            ref_name = "AddendumInput"

    @extend_schema(request=InputSerializer, responses={201: AddendumOutputSerializer, 403: FORBIDDEN,
                                                       404: NOT_FOUND, 409: CONFLICT})
    def post(self, request: Request, study_id) -> Response:
        study = _reviewable_study(request, study_id)
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        addendum = review.report_add_addendum(user=request.user, study=study, request=request,
                                              text=given.validated_data["text"])
        return Response(AddendumOutputSerializer(addendum).data, status=status.HTTP_201_CREATED)


def _reviewable_study(request: Request, study_id) -> Study:
    """404 before 403: whether a study exists is told only to those who may see it."""
    study = selectors.study_get_for(user=request.user, study_id=study_id)
    review.require_reviewer(request.user)
    return study
