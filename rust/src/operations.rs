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
                let taken = if k == from { left.min(entry.0.max(0.0)) } else { left };
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
        _ => {
            return Err(format!(
                "{name} takes scalars > 0: {} is not one",
                r.name
            ))
        }
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
