"""The environment helpers fail loudly, naming the variable, instead of guessing."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from kb_platform import env as kb_env


def test_database_url_postgres_is_parsed(monkeypatch):
    config = kb_env.database_from_url("postgres://kb:s%40cret@db.internal:5433/kbprod")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "kb",
        "s@cret",
        "db.internal",
        "5433",
    )
    assert config["NAME"] == "kbprod"


def test_database_url_sqlite_relative_path_is_under_the_project():
    config = kb_env.database_from_url("sqlite:///var/demo.sqlite3")
    assert config["NAME"].endswith("var/demo.sqlite3")
    assert config["NAME"].startswith(str(kb_env.BASE_DIR))


def test_sqlite_connections_use_wal_and_take_the_write_lock_up_front(tmp_path, django_db_blocker):
    """Web workers and a Celery worker share the demo file: readers must not block the writer,
    and a writer must queue for the lock rather than fail on a read-to-write upgrade."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    config = kb_env.database_from_url(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    # Opening a connection costs more than a query: gunicorn workers keep theirs.
    assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is True
    wrapper = DatabaseWrapper(
        {
            **config,
            "TIME_ZONE": None,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
        },
        alias="wal-check",
    )
    try:
        with django_db_blocker.unblock(), wrapper.cursor() as cursor:
            assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert wrapper.transaction_mode == "IMMEDIATE"
    finally:
        wrapper.close()


@pytest.mark.parametrize("url", ["mysql://x/y", "postgres://host:5432/", "sqlite:///"])
def test_unsupported_database_urls_are_refused_clearly(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        kb_env.database_from_url(url)


def test_bad_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("SEARCH_TOP_K", "ten")
    with pytest.raises(ImproperlyConfigured, match="SEARCH_TOP_K='ten' is not an integer"):
        kb_env.env_int("SEARCH_TOP_K", 10)


def test_integer_below_minimum_is_refused(monkeypatch):
    monkeypatch.setenv("EMBEDDING_BATCH_SIZE", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        kb_env.env_int("EMBEDDING_BATCH_SIZE", 32, minimum=1)


def test_bad_boolean_is_refused(monkeypatch):
    monkeypatch.setenv("DJANGO_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG"):
        kb_env.env_bool("DJANGO_DEBUG", False)


def test_choice_outside_the_list_is_refused(monkeypatch):
    monkeypatch.setenv("EMBEDDING_BACKEND", "tensorflow")
    with pytest.raises(ImproperlyConfigured, match="must be one of"):
        kb_env.env_choice("EMBEDDING_BACKEND", "torch", ("torch", "onnx-int8"))


def test_secret_read_from_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("LLM_API_KEY_FILE", str(secret))
    assert kb_env.env_str("LLM_API_KEY") == "from-a-file"


def test_unreadable_secret_file_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_API_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="LLM_API_KEY_FILE"):
        kb_env.env_str("LLM_API_KEY")
