"""REST API: articles (list, read, create, edit with conflict detection, publish)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from knowledge import roles
from knowledge import services as knowledge
from knowledge.models import Article, Revision
from knowledge.selectors import article_list_for_audience, article_visible_to
from support.api import (
    ERRORS,
    ArticleCreateSerializer,
    ArticleDetailSerializer,
    ArticleListSerializer,
    ArticlesPagination,
    ArticleUpdateSerializer,
    BaseAPIView,
    ErrorBodySerializer,
    IsEditor,
    IsReviewer,
    PublishSerializer,
    _django_errors,
    _validated,
)


class ArticleListView(BaseAPIView):
    permission_classes = [IsEditor]

    def _queryset(self, request):
        if roles.is_editor(request.user):
            qs = Article.objects.select_related("category")
            if request.query_params.get("status"):
                qs = qs.filter(status=request.query_params["status"])
        else:
            qs = article_list_for_audience(audience=roles.audience_for(request.user))
        if request.query_params.get("q"):
            qs = qs.filter(title__icontains=request.query_params["q"][:200])
        if request.query_params.get("category"):
            qs = qs.filter(category__slug=request.query_params["category"])
        return qs.order_by("title", "id")

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Title contains"),
            OpenApiParameter("category", str, description="Category slug"),
            OpenApiParameter("status", str, description="Editors: filter by status"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: ArticleListSerializer(many=True)},
        summary="Articles your role may read (editors see drafts too)",
    )
    def get(self, request):
        paginator = ArticlesPagination()
        page = paginator.paginate_queryset(self._queryset(request), request, view=self)
        return paginator.get_paginated_response(ArticleListSerializer(page, many=True).data)

    @extend_schema(
        request=ArticleCreateSerializer,
        responses={201: ArticleDetailSerializer, **ERRORS},
        summary="Editors: create an article (a draft revision)",
    )
    def post(self, request):
        data = _validated(ArticleCreateSerializer, request.data)
        try:
            # Category and tags are found or created inside the create's transaction.
            article = knowledge.article_create(
                title=data["title"],
                body=data["body"],
                author=request.user,
                new_category=data.get("category") or "",
                tag_names=data.get("tags", []),
                visibility=data["visibility"],
                summary=data.get("summary") or "Created via API",
            )
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response(
            ArticleDetailSerializer(article, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ArticleDetailView(BaseAPIView):
    permission_classes = [IsEditor]

    def _article(self, request, pk: int) -> Article:
        article = get_object_or_404(
            Article.objects.select_related("category", "published_revision", "latest_revision"),
            pk=pk,
        )
        if not article_visible_to(user=request.user, article=article):
            raise exceptions.NotFound("No article with this id.")
        return article

    @extend_schema(
        responses={200: ArticleDetailSerializer, 404: ErrorBodySerializer},
        summary="One article with its published revision",
    )
    def get(self, request, pk: int):
        return Response(
            ArticleDetailSerializer(self._article(request, pk), context={"request": request}).data
        )

    @extend_schema(
        request=ArticleUpdateSerializer,
        responses={200: ArticleDetailSerializer, 409: ErrorBodySerializer, **ERRORS},
        summary="Editors: save a new revision on top of base_revision_id (409 on conflict)",
    )
    def patch(self, request, pk: int):
        article = self._article(request, pk)
        data = _validated(ArticleUpdateSerializer, request.data)
        latest = article.latest_revision
        try:
            knowledge.revision_save(
                article=article,
                title=data.get("title", latest.title if latest else article.title),
                body=data.get("body", latest.body if latest else ""),
                author=request.user,
                base_revision_id=data["base_revision_id"],
                summary=data.get("summary", ""),
            )
        except knowledge.EditConflict as exc:
            response = Response(
                {
                    "error": {
                        "code": "conflict",
                        "message": str(exc),
                        "fields": {},
                        "latest_revision_id": exc.latest.pk if exc.latest else None,
                        "your_base_revision_id": data["base_revision_id"],
                    }
                },
                status=status.HTTP_409_CONFLICT,
            )
            return response
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        article.refresh_from_db()
        return Response(ArticleDetailSerializer(article, context={"request": request}).data)


class ArticlePublishView(BaseAPIView):
    permission_classes = [IsReviewer]

    @extend_schema(
        request=PublishSerializer,
        responses={200: ArticleDetailSerializer, 404: ErrorBodySerializer, **ERRORS},
        summary="Reviewers: publish the latest (or the given) revision",
    )
    def post(self, request, pk: int):
        article = get_object_or_404(Article, pk=pk)
        data = _validated(PublishSerializer, request.data or {})
        revision: Revision | None
        if "revision_id" in data:
            revision = get_object_or_404(Revision, pk=data["revision_id"], article=article)
        else:
            revision = article.latest_revision
            if revision is None:
                raise exceptions.ValidationError({"revision_id": ["The article has no revision."]})
        try:
            article = knowledge.revision_publish(revision=revision, published_by=request.user)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        article.refresh_from_db()
        return Response(ArticleDetailSerializer(article, context={"request": request}).data)
