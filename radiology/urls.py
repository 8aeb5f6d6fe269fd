from django.urls import path

from radiology import views

app_name = "radiology"

urlpatterns = [
    path("", views.worklist_page, name="worklist"),
    path("<uuid:study_id>/", views.review_page, name="review"),
    path("<uuid:study_id>/claim/", views.claim, name="claim"),
    path("<uuid:study_id>/release/", views.release, name="release"),
    path("<uuid:study_id>/sign/", views.sign, name="sign"),
    path("<uuid:study_id>/addenda/", views.add_addendum, name="addendum"),
    path("<uuid:study_id>/nodules/", views.nodule_list, name="nodules"),
]
