"""The reference: Ark's core in plain Python, the oracle the Rust core is tested against.

Nothing here runs in a framework. Each module was written from the
specifications (``docs/reducer.md``, ``docs/matching.md``, the Mesos v1 API)
apart from the Rust code it checks, and mirrors its split:

- :mod:`ark.reference.reducer`: :class:`Reducer`, the twin of
  :class:`ark.Reducer` (``rust/src/reducer.rs``);
- :mod:`ark.reference.reconcile`: reconciliation (``reconcile.rs``);
- :mod:`ark.reference.resources`: whether launches fit offers (``resources.rs``);
- :mod:`ark.reference.matching`: :func:`reference_match`, the twin of
  :func:`ark.matching.match_offers` (``matching.rs``);
- :mod:`ark.reference.events`: Mesos events lifted to Ark messages from JSON
  and protobuf, the twins of ``ark._core.decode_event`` (``json.rs``,
  ``protobuf.rs``), and their inverse for protobuf.

The property tests hold each pair to equal results; the benches use the
reference as the baseline.
"""

from ark.reference.matching import reference_match
from ark.reference.reducer import Reducer

__all__ = ["Reducer", "reference_match"]
