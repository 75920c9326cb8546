import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """User fixtures hash a password each; PBKDF2 would dominate these tests' runtime."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
