"""The app instance for Celery's own CLI: `celery -A engine.workers.cli_app worker`.

The only module that builds the app at import time; nothing else imports it.
"""

from engine.workers.app import make_celery

app = make_celery()
