"""The optional dependencies, and the extra of ``ark-mesos`` that installs each.

Importing one through :func:`require` turns a missing package into a
:class:`~ark.errors.MissingExtra` that says what to install, at the call that
needs it (a ``zk://`` driver, a :class:`~ark.high_availability.Standby`), instead of
a loop that retries for ever.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ark.errors import MissingExtra

__all__ = ["require"]

#: What ``pip install 'ark-mesos[<extra>]'`` brings, by top-level module.
EXTRAS = {
    "kazoo": "ha",
    "pymesos": "pymesos",
}

_HINTS = {
    # pymesos's http-parser does not build on 3.11+ (see the README).
    "pymesos": (
        "; on Python 3.11+ install http-parser 0.9.0 without its C extension first "
        "(the README's 'Against a real Mesos cluster' says how)"
    ),
}


def require(module: str, needed_for: str) -> ModuleType:
    """Import ``module`` (``"kazoo.client"``...), or raise :class:`MissingExtra` naming the extra.

    Returns the module.
    """
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != top:
            raise  # the package is there but one of its own imports is not
        extra = EXTRAS[top]
        raise MissingExtra(
            f"{needed_for} needs {top}, which is not installed: "
            f"pip install 'ark-mesos[{extra}]'{_HINTS.get(top, '')}",
            name=top,
        ) from exc
