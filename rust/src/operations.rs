//! Offer operations (RESERVE, UNRESERVE, CREATE, DESTROY): what each does
//! to the scalars of the offers it runs on, and the reservations and
//! persistent volumes the framework holds because of them (see
//! docs/reducer.md, **Reservations and volumes**).

use std::collections::HashMap;

use crate::messages::{Operation, OperationType, Resource};
use crate::resources::{key, Key, EPSILON};

/// Run `operations` in order on the offered scalars (`.0` of each entry),
/// as Mesos applies them before the launches; `Err` says which one does not
/// hold, and then `scalars` may be half changed (the caller drops it).
pub fn apply<'a>(
    operations: &'a [Operation],
    scalars: &mut HashMap<Key<'a>, (f64, f64)>,
) -> Result<(), String> {
    for op in operations {
        let kind = op.kind.name();
        if op.resources.is_empty() {
            return Err(format!("a {kind} operation names no resource"));
        }
        for r in &op.resources {
            let amount = check(op.kind, r)?;
            let (name, role, _, volume) = key(r);
            let (from, to) = match op.kind {
                OperationType::Reserve => ((name, role, false, None), (name, role, true, None)),
                OperationType::Unreserve => ((name, role, true, None), (name, role, false, None)),
                OperationType::Create => ((name, role, true, None), (name, role, true, volume)),
                OperationType::Destroy => ((name, role, true, volume), (name, role, true, None)),
            };
            if op.kind == OperationType::Create && scalars.get(&to).is_some_and(|s| s.0 > 0.0) {
                return Err(format!(
                    "CREATE of volume {:?}: the offers hold that volume already",
                    volume.unwrap_or_default()
                ));
            }
            // Unreserved resources are offered as role `*` (or, to frameworks
            // with RESERVATION_REFINEMENT, as their allocation role): a
            // RESERVE takes the allocation role's first, then `*`'s, and an
            // UNRESERVE gives back to `*`, as the launches of plain requests use.
            let sources: Vec<Key> = match op.kind {
                OperationType::Reserve if role != "*" => vec![from, (name, "*", false, None)],
                _ => vec![from],
            };
            let to = match op.kind {
                OperationType::Unreserve => (name, "*", false, None),
                _ => to,
            };
            let held: f64 = sources
                .iter()
                .map(|k| scalars.get(k).map_or(0.0, |s| s.0))
                .sum();
            if amount - held >= EPSILON {
                return Err(format!(
                    "{kind} needs {amount} {name} (role {role}, {}), the offers hold {held}",
                    describe(from)
                ));
            }
            let mut left = amount;
            for k in sources {
                let entry = scalars.entry(k).or_default();
                let taken = if k == from {
                    left.min(entry.0.max(0.0))
                } else {
                    left
                };
                entry.0 -= taken;
                left -= taken;
            }
            scalars.entry(to).or_default().0 += amount;
        }
    }
    Ok(())
}

fn describe(key: Key<'_>) -> String {
    match key {
        (_, _, false, _) => "unreserved".into(),
        (_, _, true, None) => "reserved".into(),
        (_, _, true, Some(id)) => format!("volume {id:?}"),
    }
}

/// The scalar an operation moves, once its resource is of the right shape.
fn check(kind: OperationType, r: &Resource) -> Result<f64, String> {
    let name = kind.name();
    let amount = match (r.scalar, &r.ranges, &r.set) {
        (Some(x), None, None) if x.is_finite() && x > 0.0 => x,
        _ => return Err(format!("{name} takes scalars > 0: {} is not one", r.name)),
    };
    let last = r.reservations.last();
    match last {
        None => return Err(format!("{name} of {}: no reservation", r.name)),
        Some(v) if v.role != r.role => {
            return Err(format!(
                "{name} of {}: role {:?} is not its reservation's {:?}",
                r.name, r.role, v.role
            ))
        }
        Some(_) => {}
    }
    let volume = r.persistence_id.is_some();
    match kind {
        OperationType::Reserve | OperationType::Unreserve if volume => Err(format!(
            "{name} of {}: a persistent volume is created and destroyed, not {}",
            r.name,
            if kind == OperationType::Reserve {
                "reserved"
            } else {
                "unreserved"
            }
        )),
        OperationType::Reserve | OperationType::Unreserve
            if last.is_some_and(|v| v.kind != crate::messages::ReservationType::Dynamic) =>
        {
            Err(format!("{name} of {}: only a DYNAMIC reservation", r.name))
        }
        OperationType::Create | OperationType::Destroy if r.name != "disk" || !volume => Err(
            format!("{name} takes disk with a persistence_id, not {}", r.name),
        ),
        OperationType::Create if r.container_path.as_deref().unwrap_or("").is_empty() => Err(
            format!("CREATE of volume {:?}: no container_path", r.persistence_id),
        ),
        _ => Ok(amount),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Reservation, ReservationType};

    fn reserved(name: &str, amount: f64, volume: Option<&str>) -> Resource {
        Resource {
            reservations: vec![Reservation {
                role: "db".into(),
                principal: Some("ark".into()),
                labels: vec![],
                kind: ReservationType::Dynamic,
            }],
            persistence_id: volume.map(str::to_owned),
            container_path: volume.map(|_| "data".to_owned()),
            ..Resource::scalar(name, amount, "db")
        }
    }

    fn op(kind: OperationType, resources: Vec<Resource>) -> Operation {
        Operation {
            kind,
            resources,
            id: None,
        }
    }

    fn run(ops: &[Operation], offered: &[Resource]) -> Result<Vec<(String, f64)>, String> {
        let mut scalars: HashMap<Key, (f64, f64)> = HashMap::new();
        for r in offered {
            scalars.entry(key(r)).or_default().0 += r.scalar.unwrap_or(0.0);
        }
        apply(ops, &mut scalars)?;
        let mut out: Vec<(String, f64)> = scalars
            .iter()
            .filter(|(_, v)| v.0 != 0.0)
            .map(|((n, r, res, v), (x, _))| (format!("{n}/{r}/{res}/{}", v.unwrap_or("-")), *x))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    #[test]
    fn reserve_then_create_turns_unreserved_disk_into_a_volume() {
        let offered = [Resource::scalar("disk", 500.0, "*")];
        let ops = [
            op(OperationType::Reserve, vec![reserved("disk", 200.0, None)]),
            op(
                OperationType::Create,
                vec![reserved("disk", 200.0, Some("v1"))],
            ),
        ];
        assert_eq!(
            run(&ops, &offered).unwrap(),
            vec![
                ("disk/*/false/-".to_owned(), 300.0),
                ("disk/db/true/v1".to_owned(), 200.0)
            ]
        );
    }

    #[test]
    fn destroy_then_unreserve_gives_everything_back() {
        let offered = [reserved("disk", 200.0, Some("v1"))];
        let ops = [
            op(
                OperationType::Destroy,
                vec![reserved("disk", 200.0, Some("v1"))],
            ),
            op(
                OperationType::Unreserve,
                vec![reserved("disk", 200.0, None)],
            ),
        ];
        assert_eq!(
            run(&ops, &offered).unwrap(),
            vec![("disk/*/false/-".to_owned(), 200.0)]
        );
    }

    #[test]
    fn operations_of_the_wrong_shape_or_size_are_refused() {
        let offered = [
            Resource::scalar("disk", 100.0, "*"),
            reserved("disk", 50.0, Some("v1")),
        ];
        let too_much = [op(
            OperationType::Reserve,
            vec![reserved("disk", 200.0, None)],
        )];
        assert!(run(&too_much, &offered)
            .unwrap_err()
            .starts_with("RESERVE needs 200 disk"));
        let unreserved = [op(
            OperationType::Reserve,
            vec![Resource::scalar("disk", 1.0, "db")],
        )];
        assert_eq!(
            run(&unreserved, &offered).unwrap_err(),
            "RESERVE of disk: no reservation"
        );
        let twice = [op(
            OperationType::Create,
            vec![reserved("disk", 1.0, Some("v1"))],
        )];
        assert!(run(&twice, &offered).unwrap_err().contains("already"));
        let cpus_volume = [op(
            OperationType::Create,
            vec![reserved("cpus", 1.0, Some("v2"))],
        )];
        assert!(run(&cpus_volume, &offered)
            .unwrap_err()
            .starts_with("CREATE takes disk"));
        assert!(run(&[op(OperationType::Destroy, vec![])], &offered).is_err());
    }
}
