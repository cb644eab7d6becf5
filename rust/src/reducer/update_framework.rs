//! UpdateFramework: change the framework's roles, suppressed roles,
//! capabilities or failover timeout without a failover (see docs/reducer.md,
//! **Roles**). The FrameworkInfo itself is the driver's, which subscribes with
//! it: the core checks the command and hands the change on as an effect.

use rustc_hash::FxHashSet as HashSet;

use crate::effects::Effect;
use crate::error::CoreError;
use crate::state::State;

pub(super) fn update_framework(
    state: &State,
    roles: Option<Vec<String>>,
    suppressed_roles: Option<Vec<String>>,
    capabilities: Option<Vec<String>>,
    failover_timeout: Option<f64>,
    out: &mut Vec<Effect>,
) -> Result<(), CoreError> {
    let rejected = |why: String| Err(CoreError::Rejected(format!("UpdateFramework: {why}")));
    if let Some(roles) = &roles {
        if roles.is_empty() {
            return rejected("roles must name at least one role".into());
        }
        let mut seen = HashSet::default();
        for role in roles {
            if role.is_empty() {
                return rejected("a role must not be empty".into());
            }
            if !seen.insert(role.as_str()) {
                return rejected(format!("role {role:?} given twice"));
            }
        }
        if let Some(suppressed) = &suppressed_roles {
            if let Some(other) = suppressed.iter().find(|r| !seen.contains(r.as_str())) {
                return rejected(format!("suppressed role {other:?} is not one of the roles"));
            }
        }
    }
    if let Some(seconds) = failover_timeout {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return rejected(format!(
                "failover_timeout must be finite and >= 0, not {seconds}"
            ));
        }
    }
    out.push(Effect::UpdateFramework {
        roles,
        suppressed_roles,
        capabilities,
        failover_timeout,
        suppressed: state.suppressed,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        roles: Option<Vec<&str>>,
        suppressed: Option<Vec<&str>>,
        timeout: Option<f64>,
    ) -> Result<Vec<Effect>, CoreError> {
        let owned = |v: Option<Vec<&str>>| v.map(|v| v.into_iter().map(String::from).collect());
        let mut out = Vec::new();
        let state = State::default();
        update_framework(
            &state,
            owned(roles),
            owned(suppressed),
            None,
            timeout,
            &mut out,
        )?;
        Ok(out)
    }

    #[test]
    fn a_valid_update_becomes_its_effect() {
        let out = run(Some(vec!["web", "batch"]), Some(vec!["batch"]), Some(60.0)).unwrap();
        assert_eq!(
            out,
            vec![Effect::UpdateFramework {
                roles: Some(vec!["web".into(), "batch".into()]),
                suppressed_roles: Some(vec!["batch".into()]),
                capabilities: None,
                failover_timeout: Some(60.0),
                suppressed: false,
            }]
        );
    }

    #[test]
    fn bad_updates_are_rejected() {
        for (roles, suppressed, timeout) in [
            (Some(vec![]), None, None),
            (Some(vec!["a", "a"]), None, None),
            (Some(vec![""]), None, None),
            (Some(vec!["a"]), Some(vec!["b"]), None),
            (None, None, Some(f64::NAN)),
            (None, None, Some(-1.0)),
        ] {
            assert!(matches!(
                run(roles, suppressed, timeout),
                Err(CoreError::Rejected(_))
            ));
        }
    }
}
