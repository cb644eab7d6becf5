//! Resource arithmetic: whether launches fit in the offers they use.

use std::collections::HashMap;
use std::sync::Arc;

use crate::messages::Launch;
use crate::state::Offer;

/// Sums of scalars may differ by float rounding; Mesos itself uses fixed point.
const EPSILON: f64 = 1e-9;

/// `Ok` when every launch resource lies within the offers (spec, Accept),
/// else why not.
pub fn check_fit(offers: &[Arc<Offer>], launches: &[Launch]) -> Result<(), String> {
    type Key<'a> = (&'a str, &'a str);
    let mut scalars: HashMap<Key, (f64, f64)> = HashMap::new();
    let mut offered_ranges: HashMap<Key, Vec<(i64, i64)>> = HashMap::new();
    let mut offered_sets: HashMap<Key, Vec<&str>> = HashMap::new();
    for resource in offers.iter().flat_map(|o| &o.resources) {
        let key = (resource.name.as_str(), resource.role.as_str());
        if let Some(amount) = resource.scalar {
            scalars.entry(key).or_default().0 += amount;
        }
        if let Some(ranges) = &resource.ranges {
            offered_ranges.entry(key).or_default().extend(ranges);
        }
        if let Some(items) = &resource.set {
            offered_sets
                .entry(key)
                .or_default()
                .extend(items.iter().map(String::as_str));
        }
    }
    let mut used_ranges: HashMap<Key, Vec<(i64, i64)>> = HashMap::new();
    let mut used_items: HashMap<Key, Vec<&str>> = HashMap::new();
    for launch in launches {
        // A pod's members take their share with its executor's.
        let members = launch.pod.iter().flat_map(|t| &t.resources);
        for resource in launch.resources.iter().chain(members) {
            let key = (resource.name.as_str(), resource.role.as_str());
            if let Some(amount) = resource.scalar {
                if amount < 0.0 {
                    return Err(format!(
                        "task {:?} asks for a negative {} ({amount})",
                        launch.task_id, resource.name
                    ));
                }
                scalars.entry(key).or_default().1 += amount;
            }
            for &(lo, hi) in resource.ranges.iter().flatten() {
                if lo > hi {
                    return Err(format!(
                        "task {:?} asks for the empty range [{lo}, {hi}] of {}",
                        launch.task_id, resource.name
                    ));
                }
                let inside = offered_ranges
                    .get(&key)
                    .is_some_and(|rs| rs.iter().any(|&(a, b)| a <= lo && hi <= b));
                if !inside {
                    return Err(format!(
                        "task {:?} asks for {} [{lo}, {hi}] (role {}), which no offer holds",
                        launch.task_id, resource.name, resource.role
                    ));
                }
                used_ranges.entry(key).or_default().push((lo, hi));
            }
            for item in resource.set.iter().flatten() {
                let offered = offered_sets
                    .get(&key)
                    .is_some_and(|items| items.contains(&item.as_str()));
                if !offered {
                    return Err(format!(
                        "task {:?} asks for {} {item:?} (role {}), which no offer holds",
                        launch.task_id, resource.name, resource.role
                    ));
                }
                used_items.entry(key).or_default().push(item);
            }
        }
        for (i, (name, port)) in launch.named_ports.iter().enumerate() {
            if launch.named_ports[..i].iter().any(|(n, _)| n == name) {
                return Err(format!(
                    "task {:?} names port {name:?} twice",
                    launch.task_id
                ));
            }
            let own = launch
                .resources
                .iter()
                .filter(|r| r.name == "ports")
                .flat_map(|r| r.ranges.iter().flatten())
                .any(|&(lo, hi)| lo <= *port && *port <= hi);
            if !own {
                return Err(format!(
                    "task {:?} names port {name:?} = {port}, which is not one of its ports",
                    launch.task_id
                ));
            }
        }
    }
    for ((name, role), (offered, asked)) in &scalars {
        // The spec's words, computed the same way as the reference: a
        // shortfall of 1e-9 or more rejects.
        if asked - offered >= EPSILON {
            return Err(format!(
                "the launches ask for {asked} {name} (role {role}), the offers hold {offered}"
            ));
        }
    }
    for ((name, _), ranges) in &mut used_ranges {
        ranges.sort_unstable();
        if let Some(w) = ranges.windows(2).find(|w| w[1].0 <= w[0].1) {
            return Err(format!(
                "the launches use {name} [{}, {}] and [{}, {}], which overlap",
                w[0].0, w[0].1, w[1].0, w[1].1
            ));
        }
    }
    for ((name, _), items) in &mut used_items {
        items.sort_unstable();
        if let Some(w) = items.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("the launches use {name} {:?} twice", w[0]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Resource;

    fn scalar(name: &str, amount: f64, role: &str) -> Resource {
        Resource {
            name: name.into(),
            scalar: Some(amount),
            ranges: None,
            set: None,
            role: role.into(),
        }
    }

    fn ranges(lo: i64, hi: i64) -> Resource {
        Resource {
            name: "ports".into(),
            scalar: None,
            ranges: Some(vec![(lo, hi)]),
            set: None,
            role: "*".into(),
        }
    }

    fn set(items: &[&str]) -> Resource {
        Resource {
            name: "disks".into(),
            scalar: None,
            ranges: None,
            set: Some(items.iter().map(|s| (*s).to_owned()).collect()),
            role: "*".into(),
        }
    }

    fn offer(resources: Vec<Resource>) -> Arc<Offer> {
        Arc::new(Offer {
            agent_id: Arc::from("a1"),
            hostname: Arc::from("h1"),
            resources,
            attributes: vec![],
            received_at: 0.0,
            role: None,
            unavailability: None,
        })
    }

    fn launch(task_id: &str, resources: Vec<Resource>) -> Launch {
        Launch {
            task_id: task_id.into(),
            name: String::new(),
            resources,
            payload: vec![],
            named_ports: vec![],
            health_check: None,
            kill_policy: None,
            pod: vec![],
        }
    }

    /// Two offers of one agent: 0.1 + 0.2 cpus, ports 100-199, disks a and b.
    fn offers() -> Vec<Arc<Offer>> {
        vec![
            offer(vec![scalar("cpus", 0.1, "*"), ranges(100, 199)]),
            offer(vec![scalar("cpus", 0.2, "*"), set(&["a", "b"])]),
        ]
    }

    fn check(launches: &[Launch]) -> Result<(), String> {
        check_fit(&offers(), launches)
    }

    #[test]
    fn launches_within_the_offers_fit() {
        let launches = [
            // 0.1 + 0.2 is not 0.3 in floating point: within EPSILON, it fits.
            launch("t1", vec![scalar("cpus", 0.3, "*"), ranges(100, 149)]),
            launch("t2", vec![ranges(150, 199), set(&["a", "b"])]),
        ];
        assert_eq!(check(&launches), Ok(()));
        assert_eq!(check(&[]), Ok(()));
    }

    #[test]
    fn scalars_add_up_across_launches_and_count_per_role() {
        let both = [
            launch("t1", vec![scalar("cpus", 0.2, "*")]),
            launch("t2", vec![scalar("cpus", 0.2, "*")]),
        ];
        let err = check(&both).unwrap_err();
        assert!(
            err.starts_with("the launches ask for 0.4 cpus (role *)"),
            "{err}"
        );
        let other_role = [launch("t1", vec![scalar("cpus", 0.1, "web")])];
        assert_eq!(
            check(&other_role),
            Err("the launches ask for 0.1 cpus (role web), the offers hold 0".into())
        );
        let negative = [launch("t1", vec![scalar("mem", -1.0, "*")])];
        assert_eq!(
            check(&negative),
            Err("task \"t1\" asks for a negative mem (-1)".into())
        );
    }

    #[test]
    fn ranges_lie_in_one_offered_range_and_do_not_overlap() {
        assert_eq!(
            check(&[launch("t1", vec![ranges(190, 200)])]),
            Err("task \"t1\" asks for ports [190, 200] (role *), which no offer holds".into())
        );
        assert_eq!(
            check(&[launch("t1", vec![ranges(120, 110)])]),
            Err("task \"t1\" asks for the empty range [120, 110] of ports".into())
        );
        let overlapping = [
            launch("t1", vec![ranges(100, 120)]),
            launch("t2", vec![ranges(120, 130)]),
        ];
        assert_eq!(
            check(&overlapping),
            Err("the launches use ports [100, 120] and [120, 130], which overlap".into())
        );
    }

    #[test]
    fn set_items_are_offered_and_used_once() {
        assert_eq!(
            check(&[launch("t1", vec![set(&["c"])])]),
            Err("task \"t1\" asks for disks \"c\" (role *), which no offer holds".into())
        );
        let twice = [
            launch("t1", vec![set(&["a"])]),
            launch("t2", vec![set(&["a"])]),
        ];
        assert_eq!(
            check(&twice),
            Err("the launches use disks \"a\" twice".into())
        );
    }

    #[test]
    fn named_ports_are_the_launch_s_own_and_named_once() {
        let mut named = launch("t1", vec![ranges(100, 101)]);
        named.named_ports = vec![("http".into(), 100), ("admin".into(), 101)];
        assert_eq!(check(&[named.clone()]), Ok(()));
        named.named_ports[1].1 = 150;
        assert_eq!(
            check(&[named.clone()]),
            Err("task \"t1\" names port \"admin\" = 150, which is not one of its ports".into())
        );
        named.named_ports[1] = ("http".into(), 101);
        assert_eq!(
            check(&[named]),
            Err("task \"t1\" names port \"http\" twice".into())
        );
    }
}
