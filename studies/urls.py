from django.urls import path

from studies import views

app_name = "studies"

urlpatterns = [
    path("", views.study_list, name="study_list"),
    path("new/", views.study_new, name="study_new"),
    path("radiology/new/", views.radiology_new, name="radiology_new"),
    path("<uuid:study_id>/", views.study_detail, name="study_detail"),
    path("<uuid:study_id>/status.json", views.study_status, name="study_status"),
    path("<uuid:study_id>/delete/", views.study_delete, name="study_delete"),
    path("<uuid:study_id>/files/<str:kind>", views.study_file, name="study_file"),
]
