"""The ``housing`` command line: the outermost layer, beside ``service.py``.

Only this package imports typer and rich; the domain packages below it (``housing``,
``training``, ``serving``, ``monitoring``, ``delivery``) return results and raise errors, and a
module here per command group turns them into tables, progress and exit codes
(:mod:`housing.exit_codes`). The Bento ships none of it.
"""

from cli.main import app

__all__ = ["app"]
