"""Regenerate the (unreleased) initial Alembic migration from the models.

Until the first release the schema is one migration, rewritten whenever the models change:
``python scripts/regen_migration.py``. After a release, add new revisions instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from hub.store.db import MIGRATIONS

target = MIGRATIONS / "versions" / "0001_initial_schema.py"
with tempfile.TemporaryDirectory() as tmp:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{Path(tmp) / 'empty.db'}")
    target.unlink(missing_ok=True)
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
generated = next((MIGRATIONS / "versions").glob("0001_*.py"))
if generated != target:
    generated.rename(target)
print(f"wrote {target}")
