import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb_platform.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
application = get_wsgi_application()

# Only serving processes import this module: load the model and the index before the first
# request instead of inside it (kb_platform/warmup.py).
from kb_platform.warmup import warm_up  # noqa: E402

warm_up()
