//! Stateful services: requests whose task keeps its data in a persistent
//! volume. The matcher reserves the disk and creates the volume in the ACCEPT
//! that launches the task, or places the task on the agent that holds its
//! volume; a task with a volume that ends is placed again, on its volume
//! (restart), or afresh when its agent is gone (replace). See
//! docs/reducer.md, Stateful services (dcos-commons' pod restart / replace).

use std::sync::Arc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::offers::track;
use super::operation_feedback::{planned_id, release_id, stranded_id};
use super::Reducer;
use crate::effects::{AcceptOffers, Effect};
use crate::error::CoreError;
use crate::messages::{
    Operation, OperationType, Reservation, ReservationType, Resource, TaskState,
};
use crate::request::{RequestResource, StoredRequest, TaskRequest, VolumeRequest};
use crate::resources;
use crate::state::{Id, Offer, State, TaskId};

impl Reducer {
    /// After an update of `task_id`: if it was a task with a volume and it
    /// ended without finishing, request it again under a new id.
    pub(super) fn volume_update(&mut self, task_id: &str, now: f64, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        let Some(task) = state.tasks.get(task_id) else {
            return;
        };
        if !task.state.is_terminal() {
            return;
        }
        let (task_state, agent_id) = (task.state, task.agent_id.clone());
        let Some(request) = state.stateful.remove(task_id) else {
            return;
        };
        match task_state {
            TaskState::Finished => return,
            TaskState::Gone | TaskState::GoneByOperator => {
                // The agent is gone for good, and its reservations and
                // volumes with it: the next placement starts afresh.
                if let Some(agent_id) = agent_id {
                    let volumes: Vec<Id> = (state.volumes.iter())
                        .filter(|(_, v)| v.agent_id == agent_id)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in volumes {
                        state.volumes.remove(&id);
                    }
                    let reserved: Vec<_> = (state.reserved.keys())
                        .filter(|(agent, _, _)| *agent == agent_id)
                        .cloned()
                        .collect();
                    for key in reserved {
                        state.reserved.remove(&key);
                    }
                }
            }
            _ => {}
        }
        let base = &request.task_id;
        let new_id = (1u64..)
            .map(|n| TaskId::from(format!("{base}.{n}")))
            .find(|id| {
                !state.tasks.contains_key(id.as_str())
                    && !state.stateful.contains_key(id)
                    && !state.demand.iter().any(|(d, _)| d == id)
            })
            .expect("some suffix is free");
        if state.demand.is_empty() {
            // As a Request: demand appears, offers are wanted again.
            state.suppressed = false;
            out.push(Effect::Revive);
        }
        state.retally(&new_id, Some(request.group()));
        state
            .demand
            .push_back((new_id.clone(), Arc::new(request.with_task_id(&new_id))));
        state.stateful.insert(new_id, request);
        self.run_matching(now, out);
    }
}

impl Reducer {
    /// Give a task's reservation and volume up and place it afresh
    /// (docs/reducer.md, **Replace**; dcos-commons' pod replace).
    pub(super) fn replace(
        &mut self,
        task_id: &str,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let state = &mut self.state;
        let request = state.stateful.get(task_id).ok_or_else(|| {
            CoreError::Rejected(format!("task {task_id:?} has no volume to give up"))
        })?;
        let volume = request
            .volume
            .as_deref()
            .expect("stateful requests have a volume");
        let id = Id::from(volume.persistence_id.as_str());
        if state.volumes.contains_key(&id) {
            state.releasing.insert(id);
        }
        state.revive_to_give_back(out);
        if let Some(task) = state.tasks.get(task_id).filter(|t| !t.state.is_terminal()) {
            out.push(Effect::Kill {
                task_id: TaskId::from(task_id),
                agent_id: task.agent_id.clone(),
            });
        }
        Ok(())
    }

    /// DESTROY and UNRESERVE each volume being given up that an outstanding
    /// offer shows, and UNRESERVE each stranded reservation it shows, in one
    /// ACCEPT of that offer.
    pub(super) fn release_volumes(&mut self, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        let mut releases: Vec<(Id, Arc<Offer>, Vec<Operation>)> = Vec::new();
        let mut unstranded: Vec<Id> = Vec::new();
        for (offer_id, offer) in state.offers.iter() {
            let mut operations = Vec::new();
            for r in &offer.resources {
                let Some(id) = r.persistence_id.as_deref() else {
                    continue;
                };
                if !state.releasing.contains(id) {
                    continue;
                }
                let reserved = Resource {
                    persistence_id: None,
                    container_path: None,
                    ..r.clone()
                };
                let op_id = |kind| Some(release_id(kind, id, offer_id));
                operations.push(Operation {
                    kind: OperationType::Destroy,
                    resources: vec![r.clone()],
                    id: op_id(OperationType::Destroy),
                });
                operations.push(Operation {
                    kind: OperationType::Unreserve,
                    resources: vec![reserved],
                    id: op_id(OperationType::Unreserve),
                });
            }
            // What is left of each reserved disk the offer shows, as the
            // stranded reservations take their share of it.
            let mut left: Vec<f64> = offer
                .resources
                .iter()
                .map(|r| r.scalar.unwrap_or(0.0))
                .collect();
            for (reserve_id, stranded) in state.stranded.iter() {
                if stranded.agent_id != offer.agent_id || unstranded.contains(reserve_id) {
                    continue;
                }
                let wanted = &stranded.resource;
                let size = wanted.scalar.unwrap_or(0.0);
                let shown = offer.resources.iter().enumerate().find(|(i, r)| {
                    r.name == wanted.name
                        && r.persistence_id.is_none()
                        && r.role == wanted.role
                        && r.reservations == wanted.reservations
                        && left[*i] - size > -resources::EPSILON
                });
                let Some((i, r)) = shown else {
                    continue;
                };
                left[i] -= size;
                operations.push(Operation {
                    kind: OperationType::Unreserve,
                    resources: vec![Resource {
                        scalar: Some(size),
                        ..r.clone()
                    }],
                    id: Some(stranded_id(&stranded.task_id, offer_id)),
                });
                unstranded.push(reserve_id.clone());
            }
            if !operations.is_empty() {
                releases.push((offer_id.clone(), offer.clone(), operations));
            }
        }
        for reserve_id in unstranded {
            state.stranded.remove(&reserve_id);
            // The UNRESERVE takes the disk out of `reserved`: a failure of
            // the RESERVE reported later must not take it out again.
            if let Some(record) = state.operations.get_mut(&reserve_id) {
                record.sent = None;
            }
        }
        let refuse_seconds = self.config.refuse_seconds(false);
        for (offer_id, offer, operations) in releases {
            state.offers.remove(&offer_id);
            for id in operations.iter().flat_map(|op| &op.resources) {
                if let Some(id) = id.persistence_id.as_deref() {
                    state.releasing.remove(id);
                }
            }
            track(state, &offer.agent_id, &operations);
            out.push(Effect::Accept(AcceptOffers {
                offer_ids: vec![offer_id.to_string()],
                agent_id: offer.agent_id.clone(),
                launches: Vec::new(),
                refuse_seconds,
                role: offer.role.as_deref().map(str::to_owned),
                operations,
            }));
        }
    }
}

/// The requests with a volume that must wait, and why: their volume is known
/// on an agent, and no outstanding offer of that agent shows it (it is in
/// use, or the agent has offered nothing since).
pub(super) fn waiting(state: &State) -> Vec<(TaskId, Arc<str>)> {
    let mut offered: Option<HashSet<(&str, &str)>> = None;
    let mut out = Vec::new();
    for (id, request) in state.demand.iter() {
        let Some(volume) = request.volume.as_deref() else {
            continue;
        };
        let Some(known) = state.volumes.get(volume.persistence_id.as_str()) else {
            continue;
        };
        if state.releasing.contains(volume.persistence_id.as_str()) {
            let reason = format!(
                "volume {:?} is being given up (DESTROY, UNRESERVE) on agent {:?}",
                volume.persistence_id, &*known.agent_id
            );
            out.push((id.clone(), Arc::from(reason)));
            continue;
        }
        let offered = offered.get_or_insert_with(|| {
            state
                .offers
                .values()
                .flat_map(|o| {
                    o.resources
                        .iter()
                        .filter_map(|r| Some((&*o.agent_id, r.persistence_id.as_deref()?)))
                })
                .collect()
        });
        if !offered.contains(&(&*known.agent_id, volume.persistence_id.as_str())) {
            let reason = format!(
                "volume {:?} waits for an offer of agent {:?} that shows it",
                volume.persistence_id, &*known.agent_id
            );
            out.push((id.clone(), Arc::from(reason)));
        }
    }
    out
}

/// The request as the matcher sees it: pinned to the agent of its volume if
/// the core knows one, else asking for the volume's size of unreserved disk
/// on top of its resources (the disk the RESERVE will take).
pub(super) fn view<'s>(state: &'s State, request: &'s StoredRequest) -> TaskRequest<'s> {
    let mut view = request.view();
    if let Some(volume) = request.volume.as_deref() {
        match state.volumes.get(volume.persistence_id.as_str()) {
            Some(known) => view.agent_id = Some(&known.agent_id),
            None => view.resources.push(RequestResource {
                name: "disk",
                scalar: Some(volume.size_mb),
                role: "*",
                ..Default::default()
            }),
        }
    }
    view
}

/// Turn the matcher's launches of requests with a volume into what Mesos
/// needs: RESERVE and CREATE before the launch, which uses the new volume;
/// or the launch on the volume the accepted offers show.
pub(super) fn plan(state: &State, accepts: &mut [Effect]) {
    let wanted: HashMap<&str, &VolumeRequest> = state
        .demand
        .iter()
        .filter_map(|(id, r)| Some((id.as_str(), r.volume.as_deref()?)))
        .collect();
    if wanted.is_empty() {
        return;
    }
    for effect in accepts {
        let Effect::Accept(accept) = effect else {
            continue;
        };
        let AcceptOffers {
            offer_ids,
            launches,
            operations,
            ..
        } = accept;
        for launch in launches {
            let Some(&volume) = wanted.get(launch.task_id.as_str()) else {
                continue;
            };
            let role = volume.role.as_str();
            let id = volume.persistence_id.as_str();
            if state.volumes.contains_key(id) {
                let offered = offer_ids
                    .iter()
                    .filter_map(|o| state.offers.get(o.as_str()))
                    .flat_map(|o| o.resources.iter())
                    .find(|r| r.persistence_id.as_deref() == Some(id));
                if let Some(r) = offered {
                    launch.resources.push(r.clone());
                }
                continue;
            }
            // The matcher took the volume's disk unreserved, last of the scalars.
            if let Some(at) = launch
                .resources
                .iter()
                .rposition(|r| r.name == "disk" && r.role == "*" && r.reservations.is_empty())
            {
                launch.resources.remove(at);
            }
            let reserved = Resource {
                name: "disk".into(),
                scalar: Some(volume.size_mb),
                ranges: None,
                set: None,
                role: role.into(),
                reservations: vec![Reservation {
                    role: role.into(),
                    principal: volume.principal.clone(),
                    labels: Vec::new(),
                    kind: ReservationType::Dynamic,
                }],
                persistence_id: None,
                container_path: None,
            };
            let created = Resource {
                persistence_id: Some(volume.persistence_id.clone()),
                container_path: Some(volume.container_path.clone()),
                ..reserved.clone()
            };
            operations.push(Operation {
                kind: OperationType::Reserve,
                resources: vec![reserved],
                id: Some(planned_id(OperationType::Reserve, &launch.task_id)),
            });
            operations.push(Operation {
                kind: OperationType::Create,
                resources: vec![created.clone()],
                id: Some(planned_id(OperationType::Create, &launch.task_id)),
            });
            launch.resources.push(created);
        }
    }
}

/// Record what the placed requests with a volume reserved and created, and
/// the request of each such task (to place it again when it ends).
pub(super) fn placed(state: &mut State, accepts: &[Effect]) {
    for effect in accepts {
        let Effect::Accept(accept) = effect else {
            continue;
        };
        if accept.operations.is_empty()
            && !accept
                .launches
                .iter()
                .any(|l| l.resources.iter().any(|r| r.persistence_id.is_some()))
        {
            continue;
        }
        track(state, &accept.agent_id, &accept.operations);
        for launch in &accept.launches {
            let id = launch.task_id.as_str();
            if state.stateful.contains_key(id) {
                continue;
            }
            let request = state
                .demand
                .iter()
                .find(|(d, r)| d.as_str() == id && r.volume.is_some())
                .map(|(_, r)| r.clone());
            if let Some(request) = request {
                state.stateful.insert(TaskId::from(id), request);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::messages::Message;
    use crate::reducer::tests::{cpus, offer, step, update};

    fn disk(amount: f64) -> Resource {
        Resource::scalar("disk", amount, "*")
    }

    fn accept(out: &[Effect]) -> &AcceptOffers {
        out.iter()
            .find_map(|e| match e {
                Effect::Accept(a) => Some(a),
                _ => None,
            })
            .expect("an Accept")
    }

    /// `pg` (1 cpu, a 64 MB volume `pg-0` of role `db`) placed on a1.
    fn placed() -> (Reducer, Resource) {
        let mut r = Reducer::default();
        let subscribed = Message::Subscribed {
            framework_id: "fw".into(),
            heartbeat_interval_seconds: None,
        };
        step(&mut r, subscribed, 0.0);
        let request = TaskRequest {
            task_id: "pg",
            resources: vec![RequestResource {
                name: "cpus",
                scalar: Some(1.0),
                role: "*",
                ..Default::default()
            }],
            volume: Some(Cow::Owned(VolumeRequest {
                persistence_id: "pg-0".into(),
                container_path: "data".into(),
                size_mb: 64.0,
                role: "db".into(),
                principal: Some("me".into()),
            })),
            ..Default::default()
        };
        let tasks = vec![StoredRequest::from(&request)];
        step(&mut r, Message::Request { tasks }, 1.0);
        // Too little disk on a1's first offer: nothing placed.
        let small = Message::Offers(vec![offer("o0", "a1", vec![cpus(4.0), disk(10.0)])]);
        assert!(!step(&mut r, small, 2.0)
            .iter()
            .any(|e| matches!(e, Effect::Accept(_))));
        let out = step(
            &mut r,
            Message::Offers(vec![offer("o1", "a1", vec![cpus(4.0), disk(100.0)])]),
            3.0,
        );
        let a = accept(&out);
        let kinds: Vec<_> = a.operations.iter().map(|op| op.kind).collect();
        assert_eq!(kinds, [OperationType::Reserve, OperationType::Create]);
        let launched = &a.launches[0].resources;
        assert_eq!(launched.len(), 2, "cpus and the volume, no plain disk");
        let volume = launched[1].clone();
        assert_eq!(volume.persistence_id.as_deref(), Some("pg-0"));
        assert_eq!(volume.role, "db");
        assert_eq!(volume.reservations[0].principal.as_deref(), Some("me"));
        assert_eq!(
            &*r.state.volumes.get("pg-0").expect("tracked").agent_id,
            "a1"
        );
        assert_eq!(r.state.reserved.len(), 1);
        (r, volume)
    }

    #[test]
    fn a_request_with_a_new_volume_reserves_creates_and_launches_in_one_accept() {
        placed();
    }

    #[test]
    fn a_failed_task_is_placed_again_on_its_volume() {
        let (mut r, volume) = placed();
        step(&mut r, update("pg", TaskState::Running, "a1"), 4.0);
        let out = step(&mut r, update("pg", TaskState::Failed, "a1"), 5.0);
        assert_eq!(out, vec![Effect::Revive]);
        // a2 has room, but not the volume; a1's offer without it does not do.
        let other = offer("o2", "a2", vec![cpus(4.0), disk(1000.0)]);
        let bare = offer("o3", "a1", vec![cpus(4.0)]);
        let out = step(&mut r, Message::Offers(vec![other, bare]), 6.0);
        assert!(!out.iter().any(|e| matches!(e, Effect::Accept(_))));
        let reason = r.state.pending_reasons.get("pg.1").expect("waiting");
        assert!(reason.contains("pg-0"), "{reason}");
        let shows = offer("o4", "a1", vec![cpus(4.0), volume.clone()]);
        let out = step(&mut r, Message::Offers(vec![shows]), 7.0);
        let a = accept(&out);
        assert!(a.operations.is_empty());
        assert_eq!(&*a.agent_id, "a1");
        assert_eq!(a.launches[0].task_id, "pg.1");
        assert_eq!(a.launches[0].resources[1], volume);
        // It ends well: nothing more.
        assert!(step(&mut r, update("pg.1", TaskState::Finished, "a1"), 8.0).is_empty());
        assert!(r.state.stateful.is_empty());
    }

    #[test]
    fn a_task_whose_agent_is_gone_is_placed_afresh() {
        let (mut r, _) = placed();
        step(&mut r, update("pg", TaskState::Gone, "a1"), 5.0);
        assert!(r.state.volumes.is_empty() && r.state.reserved.is_empty());
        let out = step(
            &mut r,
            Message::Offers(vec![offer("o2", "a2", vec![cpus(4.0), disk(100.0)])]),
            6.0,
        );
        let a = accept(&out);
        assert_eq!(a.launches[0].task_id, "pg.1");
        assert_eq!(a.operations.len(), 2);
        assert_eq!(&*r.state.volumes.get("pg-0").expect("anew").agent_id, "a2");
    }

    #[test]
    fn replace_destroys_and_unreserves_the_volume_when_offered_then_places_afresh() {
        let (mut r, volume) = placed();
        let mut out = Vec::new();
        let unknown = Message::Replace {
            task_id: "other".into(),
        };
        assert!(r.step(unknown, 3.0, &mut out).is_err());
        let replace = Message::Replace {
            task_id: "pg".into(),
        };
        // Suppressed (nothing wanted): revived, for the offer that shows the volume.
        let killed = step(&mut r, replace, 3.0);
        assert!(
            matches!(&killed[..], [Effect::Revive, Effect::Kill { task_id, .. }] if &**task_id == "pg")
        );
        step(&mut r, update("pg", TaskState::Killed, "a1"), 4.0);
        let shows = offer("o2", "a1", vec![cpus(4.0), volume.clone()]);
        let out = step(&mut r, Message::Offers(vec![shows]), 5.0);
        let a = accept(&out);
        assert!(a.launches.is_empty());
        let kinds: Vec<_> = a.operations.iter().map(|op| op.kind).collect();
        assert_eq!(kinds, [OperationType::Destroy, OperationType::Unreserve]);
        assert_eq!(a.operations[1].resources[0].persistence_id, None);
        assert!(r.state.volumes.is_empty() && r.state.reserved.is_empty());
        assert!(r.state.releasing.is_empty());
        let fresh = offer("o3", "a2", vec![cpus(4.0), disk(100.0)]);
        let out = step(&mut r, Message::Offers(vec![fresh]), 6.0);
        let a = accept(&out);
        assert_eq!(
            (&*a.agent_id, a.launches[0].task_id.as_str()),
            ("a2", "pg.1")
        );
        assert_eq!(a.operations.len(), 2);
    }
}
