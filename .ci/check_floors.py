"""Fail unless each named package is installed at exactly the given version.

``nox -s minimum`` runs it after ``uv pip install --resolution lowest-direct``:
a floor that another requirement lifts (Flask-SQLAlchemy needing a newer
SQLAlchemy, say) would otherwise go untested while pyproject.toml claims it.

    python check_floors.py '{"flask": "3.0", ...}'
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

from packaging.version import Version

wanted: dict[str, str] = json.loads(sys.argv[1])
installed = {name: version(name) for name in wanted}
print("installed:", ", ".join(f"{name} {installed[name]}" for name in sorted(wanted)))
off = {
    name: (installed[name], floor)
    for name, floor in wanted.items()
    if Version(installed[name]) != Version(floor)
}
if off:
    sys.exit(f"not at their declared floors (installed, floor): {off}")
