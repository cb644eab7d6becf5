//! Offer matching: pending task requests against outstanding offers.
//!
//! Pure and deterministic; specified in `docs/matching.md`, with a plain-Python
//! twin in `ark/matching.py` that the property tests compare against.
//!
//! Agents are taken in agent-id order. Bin-pack places each request on the
//! first agent that fits it; spread on the first that fits after the agent
//! last used for the same request shape, wrapping around. Within one cycle an
//! agent that cannot take a shape never can again (resources only shrink,
//! placement counts only grow), so each shape keeps a skip list of such
//! agents: a cycle costs about O(requests + agents x shapes), not
//! O(requests x agents). GROUP_BY is the exception: an agent it refuses may
//! be welcome once other values catch up, so such refusals are not skipped.
//!
//! The parts, in the order a cycle uses them: `input` (what a cycle reads),
//! `cycle` (the steps), `shapes` (the per-shape cache and skip lists),
//! `constraints` and `refusal` (whether an agent takes a request, and why
//! not), `pattern` (the regular expressions of LIKE and UNLIKE), `placement` (taking resources and ports), `decisions` (the output).

mod constraints;
mod cycle;
mod decisions;
mod input;
mod pattern;
mod placement;
mod refusal;
mod shapes;

pub use crate::request::{Constraint, Operator, PodTask, RequestResource, Strategy, TaskRequest};
pub use cycle::match_offers;
pub use decisions::{Decisions, OutLaunch, OutResource, Pending, Placement};
pub use input::{AgentInfo, AttributeRef, Existing, MatchInput, MatchOffer};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Attribute, Offer, Resource};

    fn offer(id: &str, agent: &str, cpus: f64, attrs: &[(&str, &str)]) -> Offer {
        let scalar = |name: &str, x: f64| Resource {
            name: name.into(),
            scalar: Some(x),
            ranges: None,
            set: None,
            role: "*".into(),
        };
        let ports = Resource {
            ranges: Some(vec![(31000, 31009)]),
            scalar: None,
            ..scalar("ports", 0.0)
        };
        Offer {
            id: id.into(),
            agent_id: agent.into(),
            hostname: format!("h-{agent}"),
            resources: vec![scalar("cpus", cpus), ports],
            attributes: attrs
                .iter()
                .map(|(k, v)| Attribute {
                    name: (*k).into(),
                    text: Some((*v).into()),
                    scalar: None,
                    ranges: None,
                    set: None,
                })
                .collect(),
            role: None,
            unavailability: None,
        }
    }

    fn request<'a>(id: &'a str, cpus: f64, constraints: Vec<Constraint<'a>>) -> TaskRequest<'a> {
        TaskRequest {
            task_id: id,
            resources: vec![RequestResource {
                name: "cpus",
                scalar: Some(cpus),
                ranges: None,
                set: None,
                role: "*",
            }],
            ports: 0,
            constraints,
            group: "g",
            agent_id: None,
            name: "",
            payload: b"",
            port_names: vec![],
            strategy: None,
            unreachable: None,
            role: None,
            health_check: None,
            kill_policy: None,
            pod: vec![],
        }
    }

    fn input<'a>(
        offers: Vec<Offer>,
        requests: Vec<TaskRequest<'a>>,
        strategy: Strategy,
    ) -> MatchInput<'a> {
        // The input borrows its offers; a test's few may live for the run.
        let offers: &'static [Offer] = Box::leak(offers.into_boxed_slice());
        MatchInput {
            offers: offers.iter().map(MatchOffer::from).collect(),
            requests,
            strategy,
            blacklist: vec![],
            existing: vec![],
            agents: vec![],
        }
    }

    fn placed(d: &Decisions<'_>) -> Vec<(String, Vec<String>)> {
        d.accepts
            .iter()
            .map(|p| {
                (
                    p.agent_id.to_string(),
                    p.launches.iter().map(|l| l.task_id.to_string()).collect(),
                )
            })
            .collect()
    }

    const IDS: [&str; 3] = ["t0", "t1", "t2"];

    #[test]
    fn binpack_fills_the_first_agent_and_spread_rotates() {
        let offers = || vec![offer("o1", "a1", 4.0, &[]), offer("o2", "a2", 4.0, &[])];
        let reqs = || IDS.iter().map(|id| request(id, 1.0, vec![])).collect();
        let d_in = input(offers(), reqs(), Strategy::Binpack);
        let d = match_offers(&d_in);
        assert_eq!(
            placed(&d),
            vec![("a1".into(), vec!["t0".into(), "t1".into(), "t2".into()])]
        );
        assert_eq!(d.declines, vec!["o2"]);
        let s_in = input(offers(), reqs(), Strategy::Spread);
        let d = match_offers(&s_in);
        assert_eq!(
            placed(&d),
            vec![
                ("a1".into(), vec!["t0".into(), "t2".into()]),
                ("a2".into(), vec!["t1".into()])
            ]
        );
    }

    #[test]
    fn unique_hostname_leaves_the_rest_pending_with_the_reason() {
        let unique = Constraint {
            field: "hostname",
            operator: Operator::Unique,
            value: "",
        };
        let offers = vec![offer("o1", "a1", 4.0, &[]), offer("o2", "a2", 4.0, &[])];
        let reqs = IDS
            .iter()
            .map(|id| request(id, 1.0, vec![unique.clone()]))
            .collect();
        let i = input(offers, reqs, Strategy::Binpack);
        let d = match_offers(&i);
        assert_eq!(d.accepts.len(), 2);
        assert_eq!(
            d.pending,
            vec![Pending {
                task_id: "t2",
                reason: "constraint hostname UNIQUE on 2 agents".into()
            }]
        );
    }

    #[test]
    fn attributes_like_and_ports() {
        let like = Constraint {
            field: "rack",
            operator: Operator::Like,
            value: "r[12]",
        };
        let offers = vec![
            offer("o1", "a1", 4.0, &[("rack", "r3")]),
            offer("o2", "a2", 4.0, &[("rack", "r2")]),
        ];
        let mut r = request("t0", 1.0, vec![like]);
        r.ports = 3;
        let i = input(offers, vec![r], Strategy::Binpack);
        let d = match_offers(&i);
        assert_eq!(d.accepts[0].agent_id, "a2");
        assert_eq!(
            d.accepts[0].launches[0].resources().nth(1).unwrap().ranges,
            Some(&[(31000, 31002)][..])
        );
    }

    #[test]
    fn group_by_evens_out_racks_and_waits_for_the_expected_count() {
        let offers: Vec<Offer> = (0..6)
            .map(|i| {
                let rack = format!("r{}", i % 3);
                offer(&format!("o{i}"), &format!("a{i}"), 8.0, &[("rack", &rack)])
            })
            .collect();
        let group_by = Constraint {
            field: "rack",
            operator: Operator::GroupBy,
            value: "3",
        };
        let ids: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
        let reqs = ids
            .iter()
            .map(|id| request(id, 1.0, vec![group_by.clone()]))
            .collect();
        let i = input(offers, reqs, Strategy::Binpack);
        let d = match_offers(&i);
        // Bin-pack takes a0 (r0), a1 (r1), a2 (r2), then a0 whenever r0 is
        // among the fewest: r0 3, r1 2, r2 2.
        assert_eq!(
            placed(&d),
            vec![
                ("a0".into(), vec!["t0".into(), "t3".into(), "t6".into()]),
                ("a1".into(), vec!["t1".into(), "t4".into()]),
                ("a2".into(), vec!["t2".into(), "t5".into()]),
            ]
        );
    }

    #[test]
    fn named_ports_and_a_request_s_own_strategy() {
        let offers = vec![offer("o1", "a1", 4.0, &[]), offer("o2", "a2", 4.0, &[])];
        let mut reqs: Vec<TaskRequest<'_>> =
            IDS.iter().map(|id| request(id, 1.0, vec![])).collect();
        reqs[0].port_names = vec!["http", "admin"];
        reqs[0].ports = 1;
        for r in &mut reqs {
            r.strategy = Some(Strategy::Spread);
        }
        let i = input(offers, reqs, Strategy::Binpack);
        let d = match_offers(&i);
        // t0's ports make it a shape of its own: t1 starts spreading from a1.
        assert_eq!(
            placed(&d),
            vec![
                ("a1".into(), vec!["t0".into(), "t1".into()]),
                ("a2".into(), vec!["t2".into()])
            ]
        );
        let t0 = &d.accepts[0].launches[0];
        assert_eq!(t0.named_ports, vec![("http", 31000), ("admin", 31001)]);
        assert_eq!(
            t0.resources().nth(1).unwrap().ranges,
            Some(&[(31000, 31002)][..])
        );
    }

    #[test]
    fn bad_requests_are_pending_not_errors() {
        let bad = Constraint {
            field: "rack",
            operator: Operator::Like,
            value: "(",
        };
        let i = input(
            vec![offer("o1", "a1", 1.0, &[])],
            vec![request("t", 1.0, vec![bad])],
            Strategy::Spread,
        );
        let d = match_offers(&i);
        assert_eq!(d.pending[0].reason, "invalid regex \"(\"");
    }

    #[test]
    fn a_request_with_a_role_takes_only_offers_allocated_to_it() {
        let with_role = |o: Offer, role: &str| Offer {
            role: Some(role.into()),
            ..o
        };
        let offers = vec![
            with_role(offer("o1", "a1", 4.0, &[]), "web"),
            with_role(offer("o2", "a1", 4.0, &[]), "batch"),
            with_role(offer("o3", "a2", 4.0, &[]), "batch"),
        ];
        let mut web = request("t0", 1.0, vec![]);
        web.role = Some("web");
        let mut batch = request("t1", 6.0, vec![]);
        batch.role = Some("batch");
        let mut ops = request("t2", 1.0, vec![]);
        ops.role = Some("ops");
        let i = input(offers, vec![web, batch, ops], Strategy::Binpack);
        let d = match_offers(&i);
        // a1's offers of two roles are two agents: never accepted together.
        assert_eq!(d.accepts.len(), 1);
        assert_eq!(d.accepts[0].offer_ids, vec!["o1"]);
        assert_eq!(d.accepts[0].role, Some("web"));
        assert_eq!(d.declines, vec!["o2", "o3"]);
        assert_eq!(
            d.pending[0].reason,
            "not enough cpus (role *) on 2 agents; not offered to role batch on 1 agent"
        );
        assert_eq!(d.pending[1].reason, "not offered to role ops on 3 agents");
    }

    #[test]
    fn strategies_and_operators_outside_their_enums_do_not_decode() {
        let decode = |bytes: &[u8]| rmp_serde::from_slice::<TaskRequest<'_>>(bytes).is_ok();
        let request = |strategy: &str, operator: &str| {
            let map = serde_json::json!({
                "task_id": "t",
                "strategy": strategy,
                "constraints": [["rack", operator, "r1"]],
            });
            rmp_serde::to_vec_named(&map).unwrap()
        };
        assert!(decode(&request("spread", "MAX_PER")));
        assert!(!decode(&request("best", "EQ")));
        assert!(!decode(&request("binpack", "NEAR")));
        assert!(!decode(&request("binpack", "eq")));
    }
}
