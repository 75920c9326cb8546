"""Editor forms: article editing (with the optimistic-concurrency base id) and filters."""

from __future__ import annotations

from django import forms

from knowledge import importers
from knowledge.conf import knowledge_conf
from knowledge.models import ArticleStatus, AuditLog, Category, Visibility


class TranslationForm(forms.Form):
    """A new translation of an article: its language, title and body (a draft for review)."""

    locale = forms.ChoiceField(label="Language")
    title = forms.CharField(max_length=300)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 22}), strip=False, label="Body")

    def __init__(self, *args, languages: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        locale = self.fields["locale"]
        assert isinstance(locale, forms.ChoiceField)
        locale.choices = languages

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        limit = knowledge_conf().max_article_body_chars
        if len(body) > limit:
            raise forms.ValidationError(
                f"The body is {len(body):,} characters; the limit is {limit:,}."
            )
        if not body.strip():
            raise forms.ValidationError("The body is empty.")
        return body


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=300)
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), required=False, empty_label="(no category)"
    )
    new_category = forms.CharField(
        max_length=200, required=False, label="…or a new category", strip=True
    )
    tags = forms.CharField(
        max_length=1000, required=False, help_text="Comma-separated, e.g. remote, pairing"
    )
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PUBLIC)
    locale = forms.CharField(max_length=16, initial="en")
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 22}), strip=False, label="Body")
    summary = forms.CharField(
        max_length=300, required=False, label="Summary of change", help_text="Shown in history"
    )
    base_revision_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        limit = knowledge_conf().max_article_body_chars
        if len(body) > limit:
            raise forms.ValidationError(
                f"The body is {len(body):,} characters; the limit is {limit:,}. "
                "Split it into several articles."
            )
        if not body.strip():
            raise forms.ValidationError("The body is empty.")
        return body

    def clean_tags(self) -> list[str]:
        names = [t.strip() for t in self.cleaned_data["tags"].split(",")]
        names = [n for n in names if n]
        if any(len(n) > 100 for n in names):
            raise forms.ValidationError("Each tag is limited to 100 characters.")
        return list(dict.fromkeys(names))


class ArticleFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Title contains")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ArticleStatus.choices])
    visibility = forms.ChoiceField(
        required=False, choices=[("", "Any visibility"), *Visibility.choices]
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), required=False, empty_label="Any category"
    )


class AuditFilterForm(forms.Form):
    article = forms.IntegerField(required=False, min_value=1, label="Article id")
    actor = forms.CharField(required=False, max_length=150, label="Actor (username)")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditLog.Action.choices]
    )


class RejectForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="What needs to change?"
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="A .jsonl corpus, a .md or .html file, or a .zip of a folder of them."
    )
    format = forms.ChoiceField(choices=importers.format_choices, initial="auto")
    visibility = forms.ChoiceField(
        choices=Visibility.choices,
        initial=Visibility.PUBLIC,
        label="Visibility for records that don't say",
    )
    category = forms.CharField(
        max_length=200, required=False, label="Category for records without one"
    )
    publish = forms.BooleanField(
        required=False, initial=False, label="Publish imported articles (reviewers and admins)"
    )
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Dry run: show what would happen, write nothing"
    )
