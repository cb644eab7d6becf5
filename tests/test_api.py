"""``ark`` is the map of the public API, and ``ark.errors`` holds every exception Ark raises."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import ark
import ark.errors

# The simulator is a tool of its own (ark-sim) with its own errors.
# The simulator is a tool of its own; the reference is the tests' oracle, whose
# private control flow (a pattern outside the dialect) never reaches a user.
OWN_ERRORS_ELSEWHERE = ("ark.sim", "ark.reference")


def test_every_exported_name_exists() -> None:
    missing = [name for name in ark.__all__ if not hasattr(ark, name)]
    assert not missing
    assert sorted(ark.__all__) == ark.__all__


def test_a_user_needs_only_ark() -> None:
    for name in (
        "V1Driver",
        "PymesosDriver",
        "task_payload",
        "FileStore",
        "ZooKeeperStore",
        "Standby",
        "match_offers",
        "Scheduler",
        "StateManager",
        "StateView",
        "TaskRecord",
    ):
        assert name in ark.__all__, name


def test_every_exception_is_an_ark_error_in_ark_errors_and_exported() -> None:
    defined = []
    for info in pkgutil.walk_packages(ark.__path__, "ark."):
        if info.name.startswith(OWN_ERRORS_ELSEWHERE):
            continue
        module = importlib.import_module(info.name)
        defined += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == info.name
        ]
    assert defined  # ark.errors itself
    assert {c.__module__ for c in defined} == {"ark.errors"}
    for cls in defined:
        assert issubclass(cls, ark.ArkError), cls
        assert cls.__name__ in ark.errors.__all__, cls
        assert getattr(ark, cls.__name__) is cls, cls


def test_record_io_errors_stay_value_errors() -> None:
    assert issubclass(ark.RecordIOError, ValueError)
    assert issubclass(ark.MissingExtra, ImportError)
