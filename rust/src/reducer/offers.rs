//! Offers: taking them in, accepting and declining them, and declining
//! those held too long (see docs/reducer.md, **Offers**, **Accept**,
//! **Decline** and **Tick**).

use std::sync::Arc;

use rustc_hash::FxHashSet as HashSet;
use serde_bytes::ByteBuf;

use super::{pods, Reducer};
use crate::effects::{Effect, LaunchTask};
use crate::error::CoreError;
use crate::messages::{Launch, Offer as OfferMessage};
use crate::reconcile;
use crate::resources;
use crate::state::{Agent, Id, Offer, State, Task, TaskId};

impl Reducer {
    pub(super) fn offers(&mut self, offers: Vec<OfferMessage>, now: f64, out: &mut Vec<Effect>) {
        let decline_all = self.state.is_reconciling() || !self.state.registered;
        let mut seen: HashSet<Id> =
            HashSet::with_capacity_and_hasher(offers.len(), Default::default());
        let mut declined: Vec<Id> = Vec::new();
        // Taken by value: the resources and attributes move into the state.
        for offer in offers {
            let agent_id = self.interner.intern(&offer.agent_id);
            let hostname = self.interner.intern(&offer.hostname);
            self.state.agents.insert(
                agent_id.clone(),
                Agent {
                    hostname: Some(hostname.clone()),
                    active: true,
                },
            );
            let id = Id::from(offer.id.as_str());
            if !seen.insert(id.clone()) || self.state.offers.contains_key(&*id) {
                continue;
            }
            if decline_all {
                declined.push(id);
            } else {
                self.state.offers.insert(
                    id,
                    Arc::new(Offer {
                        agent_id,
                        hostname,
                        resources: offer.resources,
                        attributes: offer.attributes,
                        received_at: now,
                        role: offer.role.as_deref().map(|r| self.interner.intern(r)),
                        unavailability: offer.unavailability,
                    }),
                );
            }
        }
        if !declined.is_empty() {
            declined.sort_unstable();
            reconcile::decline(&mut self.state, &self.config, declined, out);
        }
    }

    pub(super) fn accept(
        &mut self,
        offer_ids: Vec<String>,
        launches: Vec<Launch>,
        refuse_seconds: f64,
        now: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let state = &mut self.state;
        if offer_ids.is_empty() {
            return Err(CoreError::Rejected("Accept names no offer".into()));
        }
        if launches.is_empty() {
            return Err(CoreError::Rejected("Accept launches no task".into()));
        }
        let offers = outstanding(state, &offer_ids)?;
        let agent_id = offers[0].agent_id.clone();
        if let Some(other) = offers.iter().find(|o| o.agent_id != agent_id) {
            return Err(CoreError::Rejected(format!(
                "Accept combines offers of agents {:?} and {:?}",
                &*agent_id, &*other.agent_id
            )));
        }
        let role = offers[0].role.clone();
        if let Some(other) = offers.iter().find(|o| o.role != role) {
            return Err(CoreError::Rejected(format!(
                "Accept combines offers allocated to roles {:?} and {:?}",
                role.as_deref(),
                other.role.as_deref()
            )));
        }
        let mut task_ids: HashSet<&str> =
            HashSet::with_capacity_and_hasher(launches.len(), Default::default());
        // A pod's id and its members' are all claimed: none may be known.
        let claimed = launches
            .iter()
            .flat_map(|l| std::iter::once(&l.task_id).chain(l.pod.iter().map(|t| &t.task_id)));
        for task_id in claimed {
            if state
                .demand
                .iter()
                .any(|(id, r)| id == task_id || r.member_ids().any(|m| m == task_id))
            {
                return Err(CoreError::Rejected(format!(
                    "task {task_id:?} is requested from the matcher: withdraw it first"
                )));
            }
            if !task_ids.insert(task_id) {
                return Err(CoreError::Rejected(format!(
                    "task {task_id:?} appears twice in one Accept"
                )));
            }
            if state.tasks.contains_key(task_id.as_str()) {
                return Err(CoreError::Rejected(format!(
                    "task {task_id:?} is already known: a task id is launched once"
                )));
            }
        }
        resources::check_fit(&offers, &launches).map_err(CoreError::Rejected)?;

        for id in &offer_ids {
            state.offers.remove(id.as_str());
        }
        let mut launched = Vec::with_capacity(launches.len());
        for launch in launches {
            if launch.pod.is_empty() {
                state.tasks.insert(
                    TaskId::from(launch.task_id.as_str()),
                    Task::staging(Some(agent_id.clone()), now),
                );
            } else {
                let pod_id = Id::from(launch.task_id.as_str());
                pods::record_members(state, &pod_id, &launch.pod, &agent_id, now);
            }
            launched.push(LaunchTask {
                task_id: launch.task_id,
                agent_id: agent_id.clone(),
                name: launch.name,
                resources: launch.resources,
                payload: ByteBuf::from(launch.payload),
                named_ports: launch.named_ports,
                health_check: launch.health_check,
                kill_policy: launch.kill_policy,
                pod: launch.pod,
            });
        }
        out.push(Effect::Accept {
            offer_ids,
            agent_id,
            launches: launched,
            refuse_seconds,
            role: role.map(|r| r.to_string()),
        });
        Ok(())
    }

    /// Decline outstanding offers (see docs/reducer.md, **Decline**).
    pub(super) fn decline(
        &mut self,
        mut offer_ids: Vec<String>,
        refuse_seconds: f64,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let state = &mut self.state;
        if offer_ids.is_empty() {
            return Err(CoreError::Rejected("Decline names no offer".into()));
        }
        outstanding(state, &offer_ids)?;
        for id in &offer_ids {
            state.offers.remove(id.as_str());
        }
        offer_ids.sort_unstable();
        out.push(Effect::Decline {
            offer_ids: offer_ids.iter().map(|id| Id::from(id.as_str())).collect(),
            refuse_seconds,
        });
        Ok(())
    }

    /// Decline the offers held longer than `offer_hold_seconds`.
    pub(super) fn expire_offers(&mut self, now: f64, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        let config = &self.config;
        let expired: Vec<Id> = state
            .offers
            .iter()
            .filter(|(_, o)| o.received_at + config.offer_hold_seconds <= now)
            .map(|(id, _)| id.clone())
            .collect();
        if expired.is_empty() {
            return;
        }
        for id in &expired {
            state.offers.remove(id);
        }
        // Suppressed with no demand: the framework wants nothing.
        let idle = state.demand.is_empty() && state.suppressed;
        out.push(Effect::Decline {
            offer_ids: expired,
            refuse_seconds: config.refuse_seconds(idle),
        });
    }
}

/// The outstanding offers named by `ids`, or why not.
fn outstanding(state: &State, ids: &[String]) -> Result<Vec<Arc<Offer>>, CoreError> {
    let mut seen: HashSet<&str> = HashSet::with_capacity_and_hasher(ids.len(), Default::default());
    ids.iter()
        .map(|id| {
            if !seen.insert(id) {
                return Err(CoreError::Rejected(format!("offer {id:?} is named twice")));
            }
            state
                .offers
                .get(id.as_str())
                .cloned()
                .ok_or_else(|| CoreError::Rejected(format!("offer {id:?} is not outstanding")))
        })
        .collect()
}
