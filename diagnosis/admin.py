from django.contrib import admin

from diagnosis import services
from diagnosis.models import Artifact, Study, StudyFile, StudyResult


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
    list_display = ("id", "owner", "kind", "status", "stage", "created_at", "finished_at")
    list_filter = ("kind", "status", "created_at")
    search_fields = ("id", "owner__username", "files__original_name")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "id", "owner", "kind", "status", "stage", "failure_reason", "language",
        "created_at", "updated_at", "started_at", "finished_at",
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
