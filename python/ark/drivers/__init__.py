"""Drivers connect a :class:`~ark.Scheduler` to Mesos (see :class:`ark.Driver`).

* :class:`V1Driver`: the v1 scheduler HTTP API, natively (no pymesos).
* :class:`PymesosDriver`: a bridge for users of pymesos (the ``pymesos`` extra).
"""

from ark.drivers.detector import DetectorError, MasterDetector
from ark.drivers.pymesos import PymesosDriver
from ark.drivers.v1 import V1Driver

__all__ = ["DetectorError", "MasterDetector", "PymesosDriver", "V1Driver"]
