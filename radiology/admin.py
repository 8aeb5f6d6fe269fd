from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from radiology.labels import labels_write_csv
from radiology.models import Addendum, Label, Report
from studies.admin import ReadOnlyInline, ViewOnlyAdmin


class AddendumInline(ReadOnlyInline, admin.StackedInline):
    model = Addendum
    fields = readonly_fields = ("author_name", "text", "created_at")


@admin.register(Report)
class ReportAdmin(ViewOnlyAdmin):
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
