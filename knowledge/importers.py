"""Parse knowledge-base exports into plain records (no database access).

Three formats: a folder of Markdown files with YAML front matter, a JSONL corpus
({id, title, text, ...} per line) and an HTML help-center export (a folder of .html files,
or one file with an <article>/<section> per article). A malformed record becomes a Problem
naming its file and line and is skipped; the others are still returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.audience import AUDIENCES

_VISIBILITIES = AUDIENCES
_MARKDOWN_SUFFIXES = (".md", ".markdown")
_HTML_SUFFIXES = (".html", ".htm")
# A JSON line longer than this many times the body limit is refused before it is parsed
# (escapes and metadata make a line longer than its text, but not by this much).
_MAX_LINE_FACTOR = 4


@dataclass
class ImportRecord:
    external_id: str
    title: str
    body: str
    source: str  # "file:line", shown in reports
    category: str = ""
    tags: list[str] = field(default_factory=list)
    visibility: str = ""  # empty: the importer's default
    locale: str = ""
    slug: str = ""


@dataclass(frozen=True)
class Problem:
    source: str  # "file:line"
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class ParseResult:
    records: list[ImportRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class ImportFormatError(ValueError):
    """The path cannot be read as the requested format at all."""


def detect_format(path: Path) -> str:
    """Guess the format from a file suffix or a folder's contents."""
    path = Path(path)
    if path.is_file():
        suffix = path.suffix.lower()
        for fmt in IMPORT_FORMATS.values():
            if suffix in fmt.file_suffixes:
                return fmt.name
        raise ImportFormatError(f"Cannot tell the format of {path.name}: pass --format.")
    if path.is_dir():
        suffixes = {p.suffix.lower() for p in path.rglob("*") if p.is_file()}
        # A folder holding several kinds of files: the lowest folder_rank wins.
        ranked = sorted(IMPORT_FORMATS.values(), key=lambda f: f.folder_rank)
        for fmt in ranked:
            if suffixes & set(fmt.folder_suffixes):
                return fmt.name
        names = [f.folder_suffixes[0] for f in ranked]
        raise ImportFormatError(f"{path} holds no {', '.join(names[:-1])} or {names[-1]} files.")
    raise ImportFormatError(f"{path} does not exist.")


def parse_path(path: Path | str, *, fmt: str = "auto", max_body_chars: int) -> ParseResult:
    """Parse a file or folder in the given (or detected) format."""
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(f"{path} does not exist.")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in IMPORT_FORMATS:
        raise ImportFormatError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    result = IMPORT_FORMATS[fmt].parse(path, max_body_chars)
    return _check_records(result, max_body_chars=max_body_chars)


def _check_records(result: ParseResult, *, max_body_chars: int) -> ParseResult:
    """Refuse records any importer would refuse (no title, oversized, bad fields, repeats)."""
    checked = ParseResult(problems=list(result.problems))
    seen: dict[str, str] = {}
    for rec in result.records:
        rec.title = " ".join((rec.title or "").split())
        rec.body = (rec.body or "").strip("\n")
        reason = ""
        fields = (rec.external_id, rec.title, rec.body, rec.category, rec.locale, rec.slug)
        if any("\x00" in str(v) for v in (*fields, rec.visibility, *rec.tags)):
            # PostgreSQL refuses NUL in text: one such record used to abort the whole import.
            reason = "contains a NUL character (\\x00)"
        elif not rec.title:
            reason = "empty title"
        elif len(rec.title) > 300:
            reason = f"title is {len(rec.title)} characters; the limit is 300"
        elif not rec.body.strip():
            reason = "empty text"
        elif len(rec.body) > max_body_chars:
            reason = f"text is {len(rec.body):,} characters; the limit is {max_body_chars:,}"
        elif rec.visibility and rec.visibility not in _VISIBILITIES:
            reason = f"visibility {rec.visibility!r} is not public or internal"
        elif rec.external_id in seen:
            reason = f"id {rec.external_id!r} repeats the record at {seen[rec.external_id]}"
        elif len(rec.external_id) > 300:
            reason = "id is longer than 300 characters"
        if reason:
            checked.problems.append(Problem(rec.source, reason))
            continue
        seen[rec.external_id] = rec.source
        checked.records.append(rec)
    return checked


def _tags(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, (list, tuple)):
        return [str(t).strip() for t in value if str(t).strip()]
    raise ValueError("tags must be a list or a comma-separated string")


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"{name} must be text")


# --- JSONL ---------------------------------------------------------------------------------


def parse_jsonl(path: Path, *, max_line_chars: int | None = None) -> ParseResult:
    """One JSON object per line: id, title, text (+ category, tags, visibility, slug, locale)."""
    files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
    result = ParseResult()
    for file in files:
        # utf-8-sig: exports from Windows tools often start with a byte-order mark.
        with file.open(encoding="utf-8-sig", errors="replace") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                source = f"{file.name}:{line_no}"
                if max_line_chars and len(line) > max_line_chars:
                    reason = f"line is {len(line):,} characters, too large to be one article"
                    result.problems.append(Problem(source, reason))
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    result.problems.append(Problem(source, f"invalid JSON ({exc.msg})"))
                    continue
                if not isinstance(obj, dict):
                    result.problems.append(Problem(source, "line is not a JSON object"))
                    continue
                try:
                    rec = _record_from_mapping(obj, source=source, default_id="")
                except ValueError as exc:
                    result.problems.append(Problem(source, str(exc)))
                    continue
                if not rec.external_id:
                    result.problems.append(Problem(source, "missing id"))
                    continue
                result.records.append(rec)
    return result


def _record_from_mapping(obj: dict, *, source: str, default_id: str, body: str | None = None):
    return ImportRecord(
        external_id=_text(obj.get("id"), "id").strip() or default_id,
        title=_text(obj.get("title"), "title"),
        body=body if body is not None else _text(obj.get("text", obj.get("body")), "text"),
        source=source,
        category=_text(obj.get("category"), "category").strip(),
        tags=_tags(obj.get("tags")),
        visibility=_text(obj.get("visibility"), "visibility").strip().lower(),
        locale=_text(obj.get("locale"), "locale").strip()[:16],
        slug=_text(obj.get("slug"), "slug").strip(),
    )


# --- Markdown with front matter ------------------------------------------------------------

_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: `*a` references expand exponentially ("billion laughs":
    406 bytes of front matter took 10 s and 105 MB)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in front matter", mark
            )
        return super().compose_node(parent, index)


def split_front_matter(text: str) -> tuple[dict, str, int]:
    """Return (front matter, body, line number where the body starts); raise ValueError."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text, 1
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            raw = "".join(lines[1:i])
            try:
                data = yaml.load(raw, Loader=_NoAliasLoader) if raw.strip() else {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = (mark.line + 2) if mark is not None else 1
                problem = getattr(exc, "problem", None) or "invalid YAML"
                msg = f"line {line}: front matter is not valid YAML ({problem})"
                raise ValueError(msg) from exc
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise ValueError("line 2: front matter must be a mapping of key: value")
            return data, "".join(lines[i + 1 :]), i + 2
    raise ValueError("line 1: front matter starts with --- but is never closed")


def parse_markdown(path: Path) -> ParseResult:
    files = (
        sorted(p for p in path.rglob("*") if p.suffix.lower() in _MARKDOWN_SUFFIXES)
        if path.is_dir()
        else [path]
    )
    root = path if path.is_dir() else path.parent
    result = ParseResult()
    for file in files:
        rel = file.relative_to(root).as_posix()
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.problems.append(Problem(f"{rel}:1", f"cannot read file ({exc})"))
            continue
        try:
            meta, body, body_line = split_front_matter(text)
        except ValueError as exc:
            line, _, reason = str(exc).partition(": ")
            result.problems.append(Problem(f"{rel}:{line.removeprefix('line ')}", reason))
            continue
        title = meta.get("title")
        if not title:
            # No title in front matter: the first "# Heading" is the title, not body text.
            match = _H1.search(body)
            if match:
                title = match.group(1)
                body = body[: match.start()] + body[match.end() :]
        try:
            rec = _record_from_mapping(
                {**meta, "title": title},
                source=f"{rel}:{body_line}",
                default_id=rel,
                body=body.strip("\n"),
            )
        except ValueError as exc:
            result.problems.append(Problem(f"{rel}:2", str(exc)))
            continue
        result.records.append(rec)
    return result


# --- HTML help-center export ---------------------------------------------------------------

_DROP_TAGS = ("script", "style", "nav", "footer", "header", "noscript", "iframe", "form")


def parse_html(path: Path) -> ParseResult:
    from bs4 import BeautifulSoup

    files = (
        sorted(p for p in path.rglob("*") if p.suffix.lower() in _HTML_SUFFIXES)
        if path.is_dir()
        else [path]
    )
    root = path if path.is_dir() else path.parent
    result = ParseResult()
    for file in files:
        rel = file.relative_to(root).as_posix()
        try:
            soup = BeautifulSoup(file.read_text(encoding="utf-8", errors="replace"), "html.parser")
        except OSError as exc:
            result.problems.append(Problem(f"{rel}:1", f"cannot read file ({exc})"))
            continue
        for tag in soup.find_all(_DROP_TAGS):
            tag.decompose()
        sections = soup.find_all("article") or soup.find_all("section", attrs={"id": True})
        if len(sections) > 1 or (sections and path.is_file()):
            for n, section in enumerate(sections, start=1):
                heading = section.find(["h1", "h2", "h3"])
                title = heading.get_text(" ", strip=True) if heading else ""
                if heading:
                    heading.decompose()
                ext = str(section.get("data-id") or section.get("id") or f"{rel}#{n}")
                result.records.append(
                    _html_record(section, title, ext, rel, section.sourceline or 1)
                )
            continue
        container = sections[0] if sections else (soup.find("main") or soup.body or soup)
        heading = container.find("h1") or soup.find("h1")
        if heading:
            title = heading.get_text(" ", strip=True)
            heading.decompose()
        else:
            title = soup.title.get_text(" ", strip=True) if soup.title else ""
        meta_id = soup.find("meta", attrs={"name": "article-id"})
        ext = str((meta_id.get("content") if meta_id else None) or rel)
        result.records.append(_html_record(container, title, ext, rel, 1))
    return result


def _html_record(node: Any, title: str, ext: str, rel: str, line: int) -> ImportRecord:
    soup_root = node
    category = tags = ""
    if hasattr(soup_root, "get"):
        category = soup_root.get("data-category", "") or ""
        tags = soup_root.get("data-tags", "") or ""
    return ImportRecord(
        external_id=str(ext),
        title=title,
        body=html_to_markdown(node),
        source=f"{rel}:{line}",
        category=category,
        tags=_tags(tags),
    )


def html_to_markdown(node: Any) -> str:
    """Markdown-ish text from an HTML element: headings, lists, paragraphs, code, links."""
    blocks = list(_blocks(node))
    text = "\n\n".join(b for b in blocks if b.strip())
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _inline(node: Any) -> str:
    from bs4 import NavigableString, Tag

    if isinstance(node, NavigableString):
        return re.sub(r"\s+", " ", str(node))
    if not isinstance(node, Tag):
        return ""
    inner = "".join(_inline(c) for c in node.children)
    name = node.name
    if name in ("strong", "b") and inner.strip():
        return f"**{inner.strip()}**"
    if name in ("em", "i") and inner.strip():
        return f"*{inner.strip()}*"
    if name == "code":
        return f"`{node.get_text()}`"
    if name == "br":
        return "\n"
    if name == "a" and node.get("href") and inner.strip():
        return f"[{inner.strip()}]({node['href']})"
    if name == "img":
        return f"![{node.get('alt', '')}]({node.get('src', '')})" if node.get("src") else ""
    return inner


_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "body", "ul", "ol", "pre", "blockquote",
    "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "dl", "figure", "aside",
}  # fmt: skip


def _blocks(node: Any) -> Iterator[str]:
    from bs4 import NavigableString, Tag

    inline_buf: list[str] = []

    def flush() -> Iterator[str]:
        text = "".join(inline_buf).strip()
        inline_buf.clear()
        if text:
            yield text

    for child in node.children if isinstance(node, Tag) else []:
        if isinstance(child, NavigableString) or (
            isinstance(child, Tag) and child.name not in _BLOCK_TAGS
        ):
            inline_buf.append(_inline(child))
            continue
        yield from flush()
        if not isinstance(child, Tag):  # only tags get here; narrows the type
            continue
        name = child.name
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            yield "#" * int(name[1]) + " " + child.get_text(" ", strip=True)
        elif name == "p":
            yield "".join(_inline(c) for c in child.children).strip()
        elif name in ("ul", "ol"):
            yield "\n".join(_list_items(child, ordered=name == "ol"))
        elif name == "pre":
            yield "```\n" + child.get_text().strip("\n") + "\n```"
        elif name == "blockquote":
            inner = html_to_markdown(child)
            yield "\n".join("> " + line for line in inner.splitlines())
        elif name == "table":
            yield _table(child)
        elif name == "hr":
            yield "---"
        else:
            yield from _blocks(child)
    yield from flush()


def _list_items(list_node: Any, *, ordered: bool, depth: int = 0) -> Iterable[str]:
    for n, li in enumerate(list_node.find_all("li", recursive=False), start=1):
        marker = f"{n}." if ordered else "-"
        nested = li.find_all(["ul", "ol"], recursive=False)
        for sub in nested:
            sub.extract()
        text = "".join(_inline(c) for c in li.children).strip()
        yield "    " * depth + f"{marker} {text}"
        for sub in nested:
            yield from _list_items(sub, ordered=sub.name == "ol", depth=depth + 1)


def _table(table: Any) -> str:
    rows = []
    for tr in table.find_all("tr"):
        cells = [c.get_text(" ", strip=True).replace("|", "\\|") for c in tr.find_all(["th", "td"])]
        if cells:
            rows.append("| " + " | ".join(cells) + " |")
    if not rows:
        return ""
    width = rows[0].count(" | ") + 1
    return "\n".join([rows[0], "|" + " --- |" * width, *rows[1:]])


# --- The format registry ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImportFormat:
    """One import format: what `import_kb --format`, the upload form and detection offer.

    Adding a format is one parser plus one entry in IMPORT_FORMATS; the contract test in
    tests/knowledge/test_import_formats.py runs over every entry.
    """

    name: str
    label: str
    file_suffixes: tuple[str, ...]  # a single file with one of these is this format
    folder_suffixes: tuple[str, ...]  # a folder (or upload) holding these files is
    parse: Callable[[Path, int], ParseResult]  # (path, max_body_chars)
    # Which format a folder holding several kinds of files is read as (lowest first): a
    # folder of Markdown notes may hold an exported .html page too.
    folder_rank: int


def _parse_jsonl_bounded(path: Path, max_body_chars: int) -> ParseResult:
    return parse_jsonl(path, max_line_chars=max_body_chars * _MAX_LINE_FACTOR + 10_000)


IMPORT_FORMATS: dict[str, ImportFormat] = {
    f.name: f
    for f in (
        ImportFormat(
            "jsonl",
            "JSONL (id, title, text)",
            (".jsonl", ".ndjson", ".json"),
            (".jsonl", ".ndjson"),
            _parse_jsonl_bounded,
            folder_rank=3,
        ),
        ImportFormat(
            "markdown",
            "Markdown with front matter",
            _MARKDOWN_SUFFIXES,
            _MARKDOWN_SUFFIXES,
            lambda path, _max: parse_markdown(path),
            folder_rank=1,
        ),
        ImportFormat(
            "html",
            "HTML help-center export",
            _HTML_SUFFIXES,
            _HTML_SUFFIXES,
            lambda path, _max: parse_html(path),
            folder_rank=2,
        ),
    )
}
FORMATS = tuple(IMPORT_FORMATS)


def format_choices() -> list[tuple[str, str]]:
    """Choices for a format field: detection first, then every registered format."""
    return [("auto", "Detect from the file"), *((f.name, f.label) for f in IMPORT_FORMATS.values())]


# --- Export --------------------------------------------------------------------------------


def export_line(record: dict[str, Any]) -> str:
    """One JSONL line in the format parse_jsonl reads back."""
    return json.dumps(record, ensure_ascii=False)


# --- Uploads (editor UI) -------------------------------------------------------------------

UPLOAD_SUFFIXES = (*(s for f in IMPORT_FORMATS.values() for s in f.folder_suffixes), ".zip")
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_UNPACKED_BYTES = 200 * 1024 * 1024


def unpack_upload(name: str, fileobj: Any, dest: Path) -> Path:
    """Write an uploaded file (or unpack a .zip of a folder) under dest; return what to parse.

    Zip members may not escape dest ("zip slip") and the unpacked size is capped, so a
    crafted archive can neither overwrite files nor fill the disk.
    """
    import shutil
    import zipfile

    safe_name = Path(name).name or "upload"
    suffix = Path(safe_name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        names = ", ".join(f.folder_suffixes[0] for f in IMPORT_FORMATS.values())
        raise ImportFormatError(
            f"{safe_name}: upload a {names} file or a .zip of a folder of them."
        )
    target = dest / safe_name
    with target.open("wb") as out:
        shutil.copyfileobj(fileobj, out)
    if suffix != ".zip":
        return target
    folder = dest / "unpacked"
    folder.mkdir()
    try:
        with zipfile.ZipFile(target) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS:
                raise ImportFormatError(f"The archive holds more than {MAX_ZIP_MEMBERS} files.")
            if sum(m.file_size for m in members) > MAX_ZIP_UNPACKED_BYTES:
                raise ImportFormatError("The archive unpacks to more than 200 MB.")
            root = folder.resolve()
            for member in members:
                out_path = (folder / member.filename).resolve()
                if not out_path.is_relative_to(root):
                    raise ImportFormatError(f"Unsafe path in the archive: {member.filename}")
                out_path.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, out_path.open("wb") as out:
                    shutil.copyfileobj(src, out)
    except zipfile.BadZipFile as exc:
        raise ImportFormatError(f"{safe_name} is not a valid zip archive.") from exc
    return folder
