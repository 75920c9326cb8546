"""Admin for the safety rules and responses (editable by admins; changes apply within seconds)."""

from django.contrib import admin

from generation import safety
from generation.models import SafetyResponse, SafetyRule


@admin.register(SafetyRule)
class SafetyRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "category", "language", "confidence", "enabled", "updated_at"]
    list_filter = ["kind", "category", "language", "enabled"]
    list_editable = ["enabled", "confidence"]
    search_fields = ["name", "pattern", "description"]


@admin.register(SafetyResponse)
class SafetyResponseAdmin(admin.ModelAdmin):
    list_display = ["language", "updated_at"]
    search_fields = ["text"]

    def get_changeform_initial_data(self, request):
        return {"text": safety.DEFAULT_RESPONSES["en"]}
