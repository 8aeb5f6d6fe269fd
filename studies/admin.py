from django.contrib import admin
from django.http import HttpRequest

from studies import services
from studies.models import Artifact, AuditEvent, Study, StudyFile, StudyResult


class ReadOnlyInline:
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class StudyFileInline(ReadOnlyInline, admin.TabularInline):
    model = StudyFile
    fields = readonly_fields = ("original_name", "file", "content_type", "size", "sha256", "created_at")


class StudyResultInline(ReadOnlyInline, admin.StackedInline):
    model = StudyResult
    fields = readonly_fields = (
        "top_class", "probabilities", "lesion_area_fraction", "models", "findings", "created_at")


class ArtifactInline(ReadOnlyInline, admin.TabularInline):
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


class ViewOnlyAdmin(admin.ModelAdmin):
    """Records that are final once written: the admin shows them and never changes them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdmin):
    list_display = ("at", "username", "action", "study_id", "detail", "ip_address")
    list_filter = ("action", "at")
    search_fields = ("username", "study_id")
    date_hierarchy = "at"
    fields = readonly_fields = ("at", "user", "username", "action", "study_id", "detail", "ip_address")
