"""A Mesos master simulator that speaks the v1 scheduler HTTP API.

Any scheduler client (Ark's drivers, an unmodified pymesos) connects to it
as to a real master, over real sockets on loopback. Use it embedded::

    from ark.sim import Cluster, ClusterConfig

    with Cluster(ClusterConfig(seed=1)) as cluster:
        ...  # point a scheduler at cluster.url

or run ``ark-sim`` / ``python -m ark.sim``.

Where the simulator had to choose, it does what Mesos 1.11 does:

- Status codes: 200 + RecordIO stream for SUBSCRIBE; 202 for accepted
  calls; 400 for malformed JSON, failed validation, an unknown framework
  and a missing or wrong ``Mesos-Stream-Id``; 403 for a known framework
  that is not subscribed; 405 for a non-POST; 406 for an unacceptable
  ``Accept``; 413 for a body above ``max_body_bytes``; 415 for another
  ``Content-Type`` (protobuf is a later issue); 307 with
  ``Location: //host:port/api/v1/scheduler`` from a standby master; 503
  when no master leads. A SUBSCRIBE the master refuses after parsing it
  (removed framework, invalid role) gets a 200 stream with one ERROR event,
  then the stream ends.
- An ACCEPT naming an unknown, rescinded or foreign offer answers 202, not
  4xx: as in Mesos, each task of its LAUNCH operations gets TASK_LOST
  (TASK_DROPPED for PARTITION_AWARE frameworks) with REASON_INVALID_OFFERS
  from SOURCE_MASTER, and the valid offers among them are recovered. A
  task that does not fit the offer, reuses a live task id or has no
  resources gets TASK_ERROR / REASON_TASK_INVALID. Unused offered
  resources are filtered for ``refuse_seconds`` (default 5 s).
- Events on subscription: SUBSCRIBED (framework id, heartbeat interval,
  master info), then a HEARTBEAT at once and every interval. A second
  SUBSCRIBE of a connected framework sends ERROR "Framework failed over"
  on the old stream and closes it. When a stream closes, the framework is
  disconnected, its offers are recovered, and it is removed (its tasks
  killed) after its ``failover_timeout`` (Mesos's default: 0).
- The allocator offers all unallocated resources of an agent to one
  framework at a time (lowest allocated cpus first), also while another
  offer of that agent is outstanding, every ``allocation_interval`` and at
  once on SUBSCRIBE, REVIVE and agent (re-)registration; resources freed
  otherwise wait for the next cycle. Less than ``cpus:0.01`` and
  ``mem:32`` is not offered (``min_allocatable_resources``); an agent with
  GPUs is offered only to GPU_RESOURCES frameworks. A refuse filter holds
  back only the refused resources (what is freed later is offered at
  once), lasts at least an allocation interval (a negative
  ``refuse_seconds`` means 5 s, zero none), survives a connected
  framework's re-subscription and ends with a disconnection; REVIVE clears
  them. SUBSCRIBE's ``suppressed_roles`` and SUPPRESS stop offers without
  rescinding outstanding ones; a REVIVE or SUPPRESS naming a role the
  framework lacks is dropped. Offers are rescinded (RESCIND) when their
  agent is removed or disconnects, and after ``offer_timeout`` if one is
  set.
- Tasks go STAGING (no update, as in Mesos), STARTING, RUNNING, then
  FINISHED or FAILED on seeded, configurable durations and failure rate
  (per task through the labels ``ark.sim/staging``, ``ark.sim/duration``
  and ``ark.sim/outcome``; a shell command ``exit N`` ends as soon as it
  runs, FINISHED for 0 and FAILED otherwise, as on an agent); KILL gives TASK_KILLING (only with the
  TASK_KILLING_STATE capability) then TASK_KILLED when the task exits after
  SIGTERM (``kill_seconds``, or the ``ark.sim/kill`` label) or at SIGKILL
  after its kill policy's grace, or, while STAGING, an immediate
  TASK_KILLED from the agent. Health checks run on Mesos's schedule, their
  results set by ``Cluster.set_health`` (``sim/health.py``). Agents keep
  each task's updates in order and re-send the oldest unacknowledged one
  (10 s doubling to 10 min by default) until it is acknowledged; each carries a uuid and, as in
  Mesos, the task's latest state, which the master follows: resources
  return to the agent as soon as the task has ended, acknowledged or not.
  Updates the master makes itself (reconciliation, invalid offers, agent
  removal, invalid tasks: TASK_ERROR) carry no uuid and are never retried.
- Reconciliation: a known task answers its latest state; implicit
  reconciliation answers every task the master knows, unreachable ones
  excepted (as for Mesos they are not the framework's tasks). An unknown or
  unreachable task
  with an agent id: no answer while that agent may still re-register after
  a master failover; TASK_GONE if the agent is registered;
  TASK_UNREACHABLE (with ``unreachable_time``) if unreachable; TASK_GONE_BY_OPERATOR if marked gone;
  TASK_UNKNOWN otherwise. Without an agent id: no answer while any agent
  is recovering, else TASK_UNKNOWN. All but the first become TASK_LOST
  for frameworks without PARTITION_AWARE; all carry REASON_RECONCILIATION
  and SOURCE_MASTER. KILL of an unknown task is answered the same way.
- Agent loss: a killed agent disconnects at once: its offers are
  rescinded and the tasks of frameworks without ``checkpoint`` get
  TASK_LOST with REASON_AGENT_DISCONNECTED. A killed or partitioned agent
  is marked unreachable after ``agent_ping_timeout``: every task the
  master holds on it (terminal ones not yet acknowledged too) gets
  TASK_UNREACHABLE (TASK_LOST without PARTITION_AWARE) with
  REASON_AGENT_REMOVED and ``unreachable_time``, then its offers are
  rescinded, then every framework gets FAILURE with the agent id. A
  partitioned agent that comes back re-registers with its tasks, which
  keep running: the master sends each one's state with
  REASON_AGENT_REREGISTERED, and updates pending on the agent are re-sent.
  Tasks the master knew on a registered agent that comes back without them
  (it was killed and restarted in time) are reconciled by the agent:
  TASK_DROPPED (TASK_LOST) from SOURCE_AGENT with REASON_RECONCILIATION.
  MARK_AGENT_GONE gives TASK_GONE_BY_OPERATOR (TASK_LOST) with
  REASON_AGENT_REMOVED_BY_OPERATOR (REASON_AGENT_REMOVED), and moves an
  unreachable agent's tasks to the completed ones. Agents that do not
  re-register with a new master within ``agent_reregister_timeout`` give
  FAILURE.
- Master failover: masters contend in ZooKeeper with ephemeral sequential
  ``json.info_<seq>`` znodes holding JSON MasterInfo (``log_replicas``
  beside them), or in memory without ZooKeeper; the lowest sequence
  leads. A new leader knows the registry (admitted, unreachable and gone
  agents) but no framework or task until agents re-register and report
  their tasks; frameworks re-subscribe with their id and are accepted. A
  crashed master restarts as a standby with a new id.
- The simulated executor echoes every framework MESSAGE back as a MESSAGE
  event (``echo_messages``); REQUEST is accepted and ignored, as the
  allocator ignores it; reservation and volume operations are ignored.
"""

from __future__ import annotations

from ark.recordio import RecordIODecoder, frame

from .cluster import Cluster, SimError
from .config import AgentShape, ClusterConfig, TaskBehaviour, Timing
from .master import Master
from .validation import CallError

__all__ = [
    "AgentShape",
    "CallError",
    "Cluster",
    "ClusterConfig",
    "Master",
    "RecordIODecoder",
    "SimError",
    "TaskBehaviour",
    "Timing",
    "frame",
]
