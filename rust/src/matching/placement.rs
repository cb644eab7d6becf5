//! Placement: an agent's free resources, taking a request's share of them
//! (the ports lowest first), and merging offered port ranges.

use super::constraints::Value;
use super::decisions::OutLaunch;
use crate::request::TaskRequest;

/// An agent in a cycle: its offers allocated to one role combined, what is
/// still free, and the launches placed on it so far.
pub(super) struct Agent<'a> {
    pub(super) id: &'a str,
    pub(super) role: Option<&'a str>,
    pub(super) offer_ids: Vec<&'a str>,
    /// Free scalars by (name, role) index (see `match_offers`).
    pub(super) free: Vec<f64>,
    /// Free port ranges of role `*`, sorted, disjoint.
    pub(super) ports: Vec<(i64, i64)>,
    /// The agent's value for each constraint field (by field id).
    pub(super) values: Vec<Option<Value>>,
    pub(super) launches: Vec<OutLaunch<'a>>,
}

impl Agent<'_> {
    pub(super) fn free_ports(&self) -> i64 {
        self.ports.iter().map(|(lo, hi)| hi - lo + 1).sum()
    }
}

/// Take the request's resources from the agent; the launch that holds them.
pub(super) fn place<'a>(
    agent: &mut Agent<'a>,
    request: &'a TaskRequest<'a>,
    needs: &[(usize, f64)],
) -> OutLaunch<'a> {
    for &(index, need) in needs {
        agent.free[index] -= need;
    }
    let mut named_ports = Vec::new();
    let mut ports = None;
    if request.port_count() > 0 {
        let mut want = request.port_count();
        let mut taken = Vec::new();
        let mut rest = Vec::new();
        for (lo, hi) in std::mem::take(&mut agent.ports) {
            if want == 0 {
                rest.push((lo, hi));
                continue;
            }
            let len = hi - lo + 1;
            if len <= want {
                taken.push((lo, hi));
                want -= len;
            } else {
                taken.push((lo, lo + want - 1));
                rest.push((lo + want, hi));
                want = 0;
            }
        }
        agent.ports = rest;
        // The names take the lowest ports, in order.
        let lowest = taken.iter().flat_map(|&(lo, hi)| lo..=hi);
        named_ports = request.port_names.iter().copied().zip(lowest).collect();
        ports = Some(taken);
    }
    OutLaunch {
        task_id: request.task_id,
        name: request.name,
        scalars: &request.resources,
        ports,
        payload: request.payload,
        named_ports,
        health_check: request.health_check.as_deref(),
        kill_policy: request.kill_policy,
        pod: &request.pod,
    }
}

/// Sort ranges and merge the overlapping or touching ones.
pub(super) fn merge(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.retain(|(lo, hi)| lo <= hi);
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}
