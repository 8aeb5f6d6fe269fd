from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from diagnosis import services
from diagnosis.labels import labels_write_csv
from diagnosis.models import Addendum, Artifact, AuditEvent, Label, Report, Study, StudyFile, StudyResult


class _ReadOnlyInline:
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class StudyFileInline(_ReadOnlyInline, admin.TabularInline):
    model = StudyFile
    fields = readonly_fields = ("original_name", "file", "content_type", "size", "sha256", "created_at")


class StudyResultInline(_ReadOnlyInline, admin.StackedInline):
    model = StudyResult
    fields = readonly_fields = ("top_class", "probabilities", "lesion_area_fraction", "models", "findings", "created_at")


class ArtifactInline(_ReadOnlyInline, admin.TabularInline):
    model = Artifact
    fields = readonly_fields = ("kind", "file", "created_at")


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "patient_name", "patient_identifier", "urgency", "review",
                    "claimed_by", "status", "created_at")
    list_filter = ("kind", "status", "urgency", "review", ("claimed_by", admin.RelatedOnlyFieldListFilter),
                   "created_at")
    search_fields = ("id", "owner__username", "files__original_name", "patient_name", "patient_identifier")
    list_select_related = ("owner", "claimed_by")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id", "owner", "kind", "status", "stage", "failure_reason", "language",
        "created_at", "updated_at", "started_at", "finished_at",
        "patient_name", "patient_identifier", "patient_age", "patient_sex", "modality", "description",
        "study_date", "image_count", "urgency", "review", "claimed_by", "claimed_at",
    )
    inlines = (StudyFileInline, StudyResultInline, ArtifactInline)

    def has_add_permission(self, request) -> bool:
        return False  # studies come from uploads

    # Deleting through the service also removes the files from storage.
    def delete_model(self, request, obj: Study) -> None:
        services.study_delete(study=obj)

    def delete_queryset(self, request, queryset) -> None:
        for study in queryset:
            services.study_delete(study=study)


class AddendumInline(_ReadOnlyInline, admin.StackedInline):
    model = Addendum
    fields = readonly_fields = ("author_name", "text", "created_at")


class _ViewOnlyAdmin(admin.ModelAdmin):
    """Records that are final once written: the admin shows them and never changes them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(_ViewOnlyAdmin):
    """Signed reports are final; addenda are added on the review page."""

    list_display = ("study", "radiologist_name", "agree", "corrected_class", "signed_at")
    list_filter = ("agree", "signed_at")
    search_fields = ("study__id", "radiologist_name", "radiologist__username")
    list_select_related = ("study",)
    date_hierarchy = "signed_at"
    fields = readonly_fields = ("study", "radiologist", "radiologist_name", "agree", "corrected_class",
                                "impression", "ai_findings", "signed_at")
    inlines = (AddendumInline,)


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ("study", "task", "value", "ai_value", "agreed", "created_at")
    list_filter = ("task", "agreed", "value", "created_at")
    search_fields = ("study__id",)
    list_select_related = ("study",)
    fields = readonly_fields = ("study", "report", "task", "value", "ai_value", "agreed", "created_at")
    actions = ("export_csv",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # labels come from signed reports

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description=_("Export selected labels as CSV"))
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="labels-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        labels_write_csv(queryset.select_related("study", "report").prefetch_related("study__files")
                         .order_by("created_at", "id"), response)
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(_ViewOnlyAdmin):
    list_display = ("at", "username", "action", "study_id", "detail", "ip_address")
    list_filter = ("action", "at")
    search_fields = ("username", "study_id")
    date_hierarchy = "at"
    fields = readonly_fields = ("at", "user", "username", "action", "study_id", "detail", "ip_address")
