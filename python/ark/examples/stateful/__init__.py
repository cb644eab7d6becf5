"""Replicas on persistent volumes, with a REST API: ``python -m ark.examples.stateful``."""

from ark.examples.stateful.framework import ServiceSpec, Stateful, StatefulManager

__all__ = ["ServiceSpec", "Stateful", "StatefulManager"]
