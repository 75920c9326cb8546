"""Chunks of published articles with their stored embeddings.

The database is the source of truth: the FAISS and BM25 indexes are derived from these rows
and can always be rebuilt from them without re-embedding unchanged text.
"""

from __future__ import annotations

from django.db import models

from knowledge.models import Article, Revision, Visibility


class Chunk(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="chunks")
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    text = models.TextField()
    heading_path = models.CharField(max_length=500, blank=True)
    # Copied from the article at indexing time (re-indexing follows visibility changes).
    visibility = models.CharField(max_length=16, choices=Visibility.choices)
    # sha256 of the exact text that was embedded (title + headings + chunk text).
    content_hash = models.CharField(max_length=64, db_index=True)
    # sha256 of the revision's title and body this chunk was cut from: the drift check compares
    # it with the database, so a revision changed in place (not through the services) is seen.
    source_hash = models.CharField(max_length=64, blank=True)
    # float32 little-endian bytes of the L2-normalised vector.
    embedding = models.BinaryField(null=True, blank=True)
    # Backend + model identity: vectors from different models are never mixed.
    embedding_model_id = models.CharField(max_length=300, blank=True)
    token_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["article", "position"], name="unique_chunk_position")
        ]
        indexes = [models.Index(fields=["content_hash", "embedding_model_id"])]

    def __str__(self) -> str:
        return f"{self.article_id}#{self.position}"


class TextEmbedding(models.Model):
    """A vector of one exact text by one model, beside the chunk's own `embedding`.

    The multilingual leg (issue 15) embeds every chunk a second time with another model;
    keyed by content hash and model id, those vectors survive chunk rows being rewritten, so
    rebuilds and re-publishes embed only new text, and two models' vectors never mix.
    """

    content_hash = models.CharField(max_length=64)
    model_id = models.CharField(max_length=300)
    # float32 little-endian bytes of the L2-normalised vector.
    embedding = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["content_hash", "model_id"], name="unique_text_embedding_per_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_id}:{self.content_hash[:12]}"
