"""The Celery app. Without CELERY_BROKER_URL tasks run eagerly in-process (demo mode)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb_platform.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

app = Celery("kb_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
