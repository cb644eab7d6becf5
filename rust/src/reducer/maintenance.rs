//! Maintenance: inverse offers, their answers, and the drain policy (see
//! docs/reducer.md, **Maintenance**).
//!
//! Mesos sends an inverse offer for each agent under a maintenance schedule
//! where the framework holds resources; the framework answers it, or not.
//! With `Config::maintenance` left at `Ignore` (Mesos's default) the core
//! only keeps them for the hooks and the snapshot. With `Drain`, the core
//! kills an agent's tasks `maintenance_margin_seconds` before its window,
//! keeps the matcher off it while the window (less the margin) lasts, and
//! accepts the inverse offer once no task of the framework is left there.

use rustc_hash::FxHashSet as HashSet;

use super::Reducer;
use crate::effects::Effect;
use crate::error::CoreError;
use crate::messages::InverseOffer as InverseOfferMessage;
use crate::state::{Config, Id, InverseOffer, Maintenance, State, TaskId};

impl Reducer {
    /// INVERSE_OFFERS: keep each new one, then drain (under `Drain`).
    pub(super) fn inverse_offers(
        &mut self,
        inverse_offers: Vec<InverseOfferMessage>,
        now: f64,
        out: &mut Vec<Effect>,
    ) {
        for inverse in inverse_offers {
            if self.state.inverse_offers.contains_key(inverse.id.as_str()) {
                continue; // The first one of an id stands.
            }
            let agent_id = self.interner.intern(&inverse.agent_id);
            self.state.inverse_offers.insert(
                Id::from(inverse.id.as_str()),
                InverseOffer {
                    agent_id,
                    unavailability: inverse.unavailability,
                    received_at: now,
                    draining: false,
                },
            );
        }
        self.drain(None, now, out);
    }

    /// ACCEPT_INVERSE_OFFERS or DECLINE_INVERSE_OFFERS of outstanding ones.
    pub(super) fn answer_inverse_offers(
        &mut self,
        mut ids: Vec<String>,
        refuse_seconds: f64,
        accept: bool,
        out: &mut Vec<Effect>,
    ) -> Result<(), CoreError> {
        let verb = if accept { "Accept" } else { "Decline" };
        if ids.is_empty() {
            return Err(CoreError::Rejected(format!(
                "{verb}InverseOffers names no inverse offer"
            )));
        }
        let mut seen: HashSet<&str> = HashSet::default();
        for id in &ids {
            if !seen.insert(id) {
                return Err(CoreError::Rejected(format!(
                    "inverse offer {id:?} is named twice"
                )));
            }
            if !self.state.inverse_offers.contains_key(id.as_str()) {
                return Err(CoreError::Rejected(format!(
                    "inverse offer {id:?} is not outstanding"
                )));
            }
        }
        for id in &ids {
            self.state.inverse_offers.remove(id.as_str());
        }
        ids.sort_unstable();
        let inverse_offer_ids = ids.iter().map(|id| Id::from(id.as_str())).collect();
        out.push(if accept {
            Effect::AcceptInverseOffers {
                inverse_offer_ids,
                refuse_seconds,
            }
        } else {
            Effect::DeclineInverseOffers {
                inverse_offer_ids,
                refuse_seconds,
            }
        });
        Ok(())
    }

    /// The drain policy over the inverse offers of `agent` (all of them when
    /// `None`), in id order: an agent with no live task of the framework is
    /// given back (one ACCEPT_INVERSE_OFFERS for all); one whose window has
    /// begun by `now + margin` has its live tasks killed, once (and once in
    /// a pass for an agent with several).
    pub(super) fn drain(&mut self, agent: Option<&str>, now: f64, out: &mut Vec<Effect>) {
        let state = &mut self.state;
        if self.config.maintenance != Maintenance::Drain || state.inverse_offers.is_empty() {
            return;
        }
        let agents: HashSet<Id> = state
            .inverse_offers
            .values()
            .filter(|i| agent.map_or(true, |a| *i.agent_id == *a))
            .map(|i| i.agent_id.clone())
            .collect();
        if agents.is_empty() {
            return;
        }
        let mut live: Vec<(Id, TaskId)> = state
            .tasks
            .iter()
            .filter(|(_, t)| !t.state.is_terminal())
            .filter_map(|(id, t)| {
                let on = t.agent_id.as_ref().filter(|a| agents.contains(&***a))?;
                Some((on.clone(), id.clone()))
            })
            .collect();
        live.sort_unstable();
        let margin = self.config.maintenance_margin_seconds;
        let mut accepted: Vec<Id> = Vec::new();
        let mut draining: Vec<Id> = Vec::new();
        let mut killed: HashSet<Id> = HashSet::default();
        for (id, inverse) in state.inverse_offers.iter() {
            if agent.is_some_and(|a| *inverse.agent_id != *a) {
                continue;
            }
            let mut tasks = live
                .iter()
                .filter(|(a, _)| *a == inverse.agent_id)
                .peekable();
            if tasks.peek().is_none() {
                accepted.push(id.clone());
            } else if !inverse.draining && inverse.unavailability.covers(now, margin) {
                draining.push(id.clone());
                if !killed.insert(inverse.agent_id.clone()) {
                    continue; // Another inverse offer of the agent killed them just now.
                }
                for (agent_id, task_id) in tasks {
                    out.push(Effect::Kill {
                        task_id: task_id.clone(),
                        agent_id: Some(agent_id.clone()),
                    });
                }
            }
        }
        for id in &draining {
            if let Some(inverse) = state.inverse_offers.get_mut(id) {
                inverse.draining = true;
            }
        }
        if accepted.is_empty() {
            return;
        }
        for id in &accepted {
            state.inverse_offers.remove(id);
        }
        out.push(Effect::AcceptInverseOffers {
            inverse_offer_ids: accepted,
            refuse_seconds: self.config.offer_refuse_seconds,
        });
    }
}

/// The agents whose offers the matcher must not use under `Drain`: those of
/// outstanding offers whose unavailability covers `now + margin`.
pub(super) fn draining_agents<'s>(state: &'s State, config: &Config, now: f64) -> Vec<&'s str> {
    if config.maintenance != Maintenance::Drain {
        return Vec::new();
    }
    let margin = config.maintenance_margin_seconds;
    let mut agents: Vec<&str> = state
        .offers
        .values()
        .filter(|o| o.unavailability.is_some_and(|u| u.covers(now, margin)))
        .map(|o| &*o.agent_id)
        .collect();
    agents.sort_unstable();
    agents.dedup();
    agents
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Message, TaskState, Unavailability};
    use crate::reducer::tests::{cpus, offer, running, status, step};
    use crate::request::{RequestResource, StoredRequest, TaskRequest};

    const HOUR: f64 = 3600.0;

    fn inverse(id: &str, agent: &str, start: f64) -> Message<'static> {
        Message::InverseOffers(vec![InverseOfferMessage {
            id: id.into(),
            agent_id: agent.into(),
            unavailability: Unavailability {
                start,
                duration: Some(HOUR),
            },
        }])
    }

    fn draining(mut r: Reducer) -> Reducer {
        r.config.maintenance = Maintenance::Drain;
        r.config.maintenance_margin_seconds = 60.0;
        r
    }

    fn accepted(ids: &[&str]) -> Effect {
        Effect::AcceptInverseOffers {
            inverse_offer_ids: ids.iter().map(|&i| Id::from(i)).collect(),
            refuse_seconds: 5.0,
        }
    }

    #[test]
    fn by_default_inverse_offers_are_kept_for_the_hooks_and_answered_by_command() {
        let mut r = running();
        assert!(step(&mut r, inverse("i2", "a1", 10.0), 4.0).is_empty());
        assert!(step(&mut r, inverse("i1", "a1", 10.0), 4.0).is_empty());
        assert_eq!(r.state.inverse_offers.len(), 2);
        assert!(
            step(&mut r, Message::Tick, 100.0).is_empty(),
            "nothing drains"
        );

        let mut out = Vec::new();
        for bad in [
            vec![],
            vec!["i1".into(), "i1".into()],
            vec!["i1".into(), "nope".into()],
        ] {
            let answer = Message::AcceptInverseOffers {
                inverse_offer_ids: bad,
                refuse_seconds: 5.0,
            };
            assert!(matches!(
                r.step(answer, 5.0, &mut out),
                Err(CoreError::Rejected(_))
            ));
        }
        assert!(out.is_empty() && r.state.inverse_offers.len() == 2);
        let answer = Message::AcceptInverseOffers {
            inverse_offer_ids: vec!["i2".into(), "i1".into()],
            refuse_seconds: 5.0,
        };
        assert_eq!(step(&mut r, answer, 5.0), vec![accepted(&["i1", "i2"])]);
        assert!(r.state.inverse_offers.is_empty());
    }

    #[test]
    fn a_rescind_or_a_disconnection_voids_them() {
        let mut r = running();
        step(&mut r, inverse("i1", "a1", 10.0), 4.0);
        step(&mut r, inverse("i2", "a1", 10.0), 4.0);
        let rescind = Message::RescindInverseOffer {
            inverse_offer_id: "i1".into(),
        };
        step(&mut r, rescind, 5.0);
        assert_eq!(
            r.state.inverse_offers.keys().collect::<Vec<_>>(),
            vec![&Id::from("i2")]
        );
        step(&mut r, Message::Disconnected, 6.0);
        assert!(r.state.inverse_offers.is_empty());
    }

    #[test]
    fn drain_kills_once_before_the_window_and_accepts_once_the_agent_is_empty() {
        let mut r = draining(running());
        // Two hours ahead: nothing to do yet.
        assert!(step(&mut r, inverse("i1", "a1", 2.0 * HOUR), 4.0).is_empty());
        assert!(step(&mut r, Message::Tick, 2.0 * HOUR - 61.0).is_empty());
        let kill = Effect::Kill {
            task_id: "t1".into(),
            agent_id: Some("a1".into()),
        };
        assert_eq!(step(&mut r, Message::Tick, 2.0 * HOUR - 60.0), vec![kill]);
        assert!(r.state.inverse_offers.get("i1").unwrap().draining);
        assert!(
            step(&mut r, Message::Tick, 2.0 * HOUR - 59.0).is_empty(),
            "killed once"
        );
        let killed = Message::Update(status("t1", TaskState::Killed));
        assert_eq!(
            step(&mut r, killed, 2.0 * HOUR - 58.0),
            vec![accepted(&["i1"])]
        );
        assert!(r.state.inverse_offers.is_empty());
        // An agent where the framework runs nothing is given back at once.
        assert_eq!(
            step(&mut r, inverse("i2", "a2", 3.0 * HOUR), 2.0 * HOUR),
            vec![accepted(&["i2"])]
        );
    }

    #[test]
    fn drain_keeps_the_matcher_off_an_agent_during_its_window() {
        let mut r = draining(running());
        let request = Message::Request {
            tasks: vec![StoredRequest::from(&TaskRequest {
                task_id: "t2",
                resources: vec![RequestResource {
                    name: "cpus",
                    scalar: Some(1.0),
                    ranges: None,
                    set: None,
                    role: "*",
                }],
                ..Default::default()
            })],
        };
        step(&mut r, request, 4.0);
        let window = Unavailability {
            start: 100.0,
            duration: Some(HOUR),
        };
        let mut o2 = offer("o2", "a2", vec![cpus(4.0)]);
        o2.unavailability = Some(window);
        // 50 s before the window, within the margin: declined, not used.
        let out = step(&mut r, Message::Offers(vec![o2.clone()]), 50.0);
        assert!(
            matches!(&out[..], [Effect::Decline { offer_ids, .. }] if offer_ids[0].as_ref() == "o2"),
            "{out:?}"
        );
        assert_eq!(r.state.pending_reasons.len(), 1);
        // Once the window is over, the agent takes tasks again.
        o2.id = "o3".into();
        let out = step(&mut r, Message::Offers(vec![o2]), 100.0 + HOUR);
        assert!(matches!(&out[0], Effect::Accept { agent_id, .. } if agent_id.as_ref() == "a2"));
    }
}
