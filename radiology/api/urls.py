from django.urls import path

from radiology.api import nodules, review

app_name = "radiology-api"

urlpatterns = [
    path("worklist/", review.WorklistApi.as_view(), name="worklist"),
    path("studies/<uuid:study_id>/claim/", review.StudyClaimApi.as_view(), name="study-claim"),
    path("studies/<uuid:study_id>/release/", review.StudyReleaseApi.as_view(), name="study-release"),
    path("studies/<uuid:study_id>/sign/", review.StudySignApi.as_view(), name="study-sign"),
    path("studies/<uuid:study_id>/addenda/", review.StudyAddendumApi.as_view(), name="study-addenda"),
    path("studies/<uuid:study_id>/nodules/", nodules.NoduleListApi.as_view(), name="study-nodules"),
    path("nodules/<int:nodule_id>/heatmap.png", nodules.NoduleHeatmapApi.as_view(), name="nodule-heatmap"),
]
