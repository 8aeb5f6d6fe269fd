"""Django for a benchmark: a temporary SQLite database and media folder (unless DATABASE_URL
is set), the filesystem broker, migrated."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(var_dir: Path, weights_dir: Path | None = None) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{var_dir / 'db.sqlite3'}")
    os.environ.update({
        "VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "lesions_project.settings",
        "ALLOWED_HOSTS": "testserver",
    })
    if weights_dir is not None:
        os.environ["ML_WEIGHTS_DIR"] = str(weights_dir)
    os.environ.pop("REDIS_URL", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
