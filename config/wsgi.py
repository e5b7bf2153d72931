"""WSGI entry point (``gunicorn config.wsgi``).

Each worker opens the service's keys before it serves: with keys it cannot open (a wrong
``RS_KEY_PASSPHRASE``, a missing file) the server stops with one clear line instead of
answering 500 to every request that signs.
"""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()

from core.health import keys_open  # noqa: E402  (needs the settings configured above)

try:
    keys_open()
except ImproperlyConfigured as error:
    sys.stderr.write(f"The service cannot start: {error}\n")
    sys.stderr.flush()
    # gunicorn's "App failed to load": its arbiter stops instead of restarting the worker.
    sys.exit(4)
