"""Reading the environment for `kb_platform.settings`: small typed helpers that raise
ImproperlyConfigured naming the variable, the DATABASE_URL parser, and the demo's
per-install secret key.

Apart from the settings module (which alone calls these, and which Django loads) so that it
is only the list of settings with their variables and defaults, and these parsers can be
tested without loading every setting.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string from NAME, or from the file named by NAME_FILE (for secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, "") or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def env_minutes_by_priority(name: str, default: dict[str, int]) -> dict[str, int]:
    """ "urgent=15,high=60": minutes per priority; names left out keep their default."""
    raw = os.environ.get(name, "").strip()
    values = dict(default)
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, number = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in default:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not like 'urgent=15' (priorities: {', '.join(default)})"
            )
        try:
            minutes = int(number)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {item!r} needs whole minutes") from exc
        if minutes < 1:
            raise ImproperlyConfigured(f"{name}: {item!r} must be at least 1 minute")
        values[key] = minutes
    return values


def database_from_url(url: str) -> dict:
    """Translate DATABASE_URL (sqlite:///path or postgres://user:pass@host:port/db) to Django."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, like dj-database-url.
        path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
        if not path:
            raise ImproperlyConfigured("DATABASE_URL=sqlite:/// needs a file path")
        name = path if Path(path).is_absolute() else str(BASE_DIR / path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            # Opening an SQLite connection (pragmas, Django's SQL functions) was ~6% of an
            # uncached ask under gunicorn: keep it across requests like PostgreSQL's.
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "timeout": 20,
                # Several gunicorn workers and a Celery worker share one file: WAL lets readers
                # run beside the writer, synchronous=NORMAL drops the fsync on every commit
                # (still durable across an application crash; at most the last commits are
                # lost on power loss), and IMMEDIATE takes the write lock when a transaction
                # starts so two writers queue on `timeout` instead of failing "database is
                # locked" on a read-to-write upgrade.
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            },
        }
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        if not parsed.path.strip("/"):
            raise ImproperlyConfigured("DATABASE_URL for PostgreSQL needs a database name")
        options = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use sqlite:/// or postgres://)"
    )


def per_install_secret_key(path: Path) -> str:
    """The demo's secret key: generated once per install into `path` (mode 0600), then reused.

    Never a key built into the code: anyone could forge signed widget tokens with that.
    """
    import secrets

    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    except OSError as exc:
        raise ImproperlyConfigured(
            f"the demo secret key file {path} cannot be read: {exc}"
        ) from exc
    if existing:
        return existing
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(50))
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process just wrote
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"the demo secret key cannot be written to {path}: {exc}"
        ) from exc
