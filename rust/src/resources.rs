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
        for resource in &launch.resources {
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
