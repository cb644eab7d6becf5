"""A task on every agent, a REST API and a blacklist: ``python -m ark.examples.everywhere``."""

from ark.examples.everywhere.framework import Everywhere, EverywhereManager, TaskSpec

__all__ = ["Everywhere", "EverywhereManager", "TaskSpec"]
