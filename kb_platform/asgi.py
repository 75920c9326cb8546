import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb_platform.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
application = get_asgi_application()
