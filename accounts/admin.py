from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services import user_apply_role


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "role", "is_staff", "is_active", "date_joined")
    list_filter = ("role", "is_staff", "is_superuser", "is_active")
    search_fields = ("username", "email")
    fieldsets = (*DjangoUserAdmin.fieldsets, (_("Platform"), {"fields": ("role",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, (_("Platform"), {"fields": ("email", "role")}))

    def save_model(self, request, obj: User, form, change: bool) -> None:
        user_apply_role(user=obj)
        super().save_model(request, obj, form, change)
