"""Django admin for the knowledge base: kept available to admins beside the editor UI.

Revisions and the audit log are read-only here: edits go through the editor so they are
versioned, reviewed and audited.
"""

from django.contrib import admin

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
    readonly_fields = ("published_revision", "latest_revision", "published_at", "created_at")
    raw_id_fields = ("owner",)
    filter_horizontal = ("tags",)
    inlines = [RevisionInline]


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ("article", "number", "title", "state", "author", "created_at")
    list_filter = ("state",)
    search_fields = ("title", "article__title")
    raw_id_fields = ("article", "author", "base_revision", "restored_from", "reviewed_by")
    readonly_fields = ("created_at",)


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
