"""Django admin for the knowledge base: kept available to admins beside the editor UI.

Revisions and the audit log are read-only here: edits go through the editor so they are
versioned, reviewed and audited. On articles only metadata can change (category, tags,
locale, owner), and it goes through `services.article_update_metadata` (audited, reindexed);
title, slug, status and visibility change only through the editor's review flow.
"""

from typing import Any

from django.contrib import admin

from knowledge import services
from knowledge.models import Article, AuditLog, Category, Revision, Tag


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent", "position")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)


class RevisionInline(admin.TabularInline):
    model = Revision
    fk_name = "article"
    fields = ("number", "title", "state", "author", "summary", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "visibility", "category", "locale", "updated_at")
    list_filter = ("status", "visibility", "category", "locale")
    search_fields = ("title", "slug", "external_id")
    readonly_fields = (
        "title",
        "slug",
        "status",
        "visibility",
        "external_id",
        "published_revision",
        "latest_revision",
        "published_at",
        "created_at",
    )
    raw_id_fields = ("owner",)
    filter_horizontal = ("tags",)
    inlines = [RevisionInline]

    def has_add_permission(self, request: Any) -> bool:
        return False  # created in the editor, as a draft revision

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # archive it in the editor: history, audit and the index stay consistent

    def save_model(self, request: Any, obj: Article, form: Any, change: bool) -> None:
        # Not obj.save(): that would write every column of this form's (possibly stale) copy.
        if "owner" in form.changed_data:
            Article.objects.filter(pk=obj.pk).update(owner=obj.owner)
            services.audit_record(
                actor=request.user,
                action=AuditLog.Action.UPDATE,
                target=obj,
                detail={"owner": obj.owner.get_username() if obj.owner else None},
            )

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        # Category, locale and tags through the service (audit + reindex of a live article);
        # the revision inline is read-only (its formset saves nothing, but the admin's change
        # message reads what it saved).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
        if not {"category", "locale", "tags"} & set(form.changed_data):
            return
        services.article_update_metadata(
            article=Article.objects.get(pk=form.instance.pk),
            updated_by=request.user,
            category=form.cleaned_data.get("category"),
            locale=form.cleaned_data.get("locale"),
            tags=list(form.cleaned_data.get("tags") or []),
        )


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    """Read-only: a revision's text and state change only through review and publishing."""

    list_display = ("article", "number", "title", "state", "author", "created_at")
    list_filter = ("state",)
    search_fields = ("title", "article__title")

    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        return [f.name for f in Revision._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target_type", "target_repr")
    list_filter = ("action", "target_type")
    search_fields = ("target_repr", "actor__username", "target_id")
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
