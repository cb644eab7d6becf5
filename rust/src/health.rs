//! Health checks and kill policies, as `ark.messages.HealthCheck` and
//! `KillPolicy`: what a request asks Mesos's executor to do with its task.
//!
//! Ark does not run the checks: the executor on the agent does, and reports
//! each result as a status update with `healthy` set (see docs/reducer.md,
//! Health checks). Here they are decoded, validated as Mesos validates them
//! (`checks::validation::healthCheck`), carried from the request to the
//! launch, and written into the `TaskInfo`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `mesos.v1.HealthCheck.Type`, less UNKNOWN (which Mesos refuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckType {
    #[serde(rename = "COMMAND")]
    Command,
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "TCP")]
    Tcp,
}

impl CheckType {
    fn name(self) -> &'static str {
        match self {
            CheckType::Command => "COMMAND",
            CheckType::Http => "HTTP",
            CheckType::Tcp => "TCP",
        }
    }
}

/// The schemes Mesos's HTTP check accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

/// A health check; the defaults are those of `mesos.proto`. Fields in the
/// order of `ark.messages.HealthCheck`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(rename = "type")]
    pub kind: CheckType,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub scheme: Option<Scheme>,
    #[serde(default = "fifteen")]
    pub delay_seconds: f64,
    #[serde(default = "ten")]
    pub interval_seconds: f64,
    #[serde(default = "twenty")]
    pub timeout_seconds: f64,
    #[serde(default = "three")]
    pub consecutive_failures: i64,
    #[serde(default = "ten")]
    pub grace_period_seconds: f64,
}

fn fifteen() -> f64 {
    15.0
}
fn ten() -> f64 {
    10.0
}
fn twenty() -> f64 {
    20.0
}
fn three() -> i64 {
    3
}

/// The longest duration a check or kill policy may name (a week): finite,
/// and far inside `DurationInfo`'s int64 nanoseconds.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

fn in_range(seconds: f64) -> bool {
    (0.0..MAX_SECONDS).contains(&seconds)
}

impl HealthCheck {
    /// Why Mesos would refuse this check, or None; the same words as
    /// `ark.messages.HealthCheck.problem`.
    pub fn problem(&self) -> Option<String> {
        let kind = self.kind.name();
        if self.kind == CheckType::Command {
            if self.command.as_deref().unwrap_or("").is_empty() {
                return Some("a COMMAND health check needs a command".into());
            }
            if self.port.is_some() || self.path.is_some() || self.scheme.is_some() {
                return Some("a COMMAND health check takes no port, path or scheme".into());
            }
        } else {
            if self.command.is_some() {
                return Some(format!("the {kind} health check takes no command"));
            }
            if !matches!(self.port, Some(1..=65535)) {
                return Some(format!(
                    "the {kind} health check needs a port from 1 to 65535"
                ));
            }
            if self.kind == CheckType::Tcp && (self.path.is_some() || self.scheme.is_some()) {
                return Some("a TCP health check takes no path or scheme".into());
            }
            if let Some(path) = self.path.as_deref().filter(|p| !p.starts_with('/')) {
                return Some(format!(
                    "the path {path:?} of an HTTP health check must start with '/'"
                ));
            }
        }
        for (name, value) in [
            ("delay_seconds", self.delay_seconds),
            ("interval_seconds", self.interval_seconds),
            ("timeout_seconds", self.timeout_seconds),
        ] {
            if !in_range(value) {
                return Some(format!(
                    "health check {name} must be from 0 to {MAX_SECONDS:.0}, not {value}"
                ));
            }
        }
        if self.interval_seconds <= 0.0 {
            return Some("health check interval_seconds must be over 0".into());
        }
        if !in_range(self.grace_period_seconds) {
            return Some(format!(
                "health check grace_period_seconds must be from 0 to {MAX_SECONDS:.0}"
            ));
        }
        if !(1..=0xFFFF_FFFF).contains(&self.consecutive_failures) {
            return Some("health check consecutive_failures must be at least 1".into());
        }
        None
    }

    /// The v1 JSON `HealthCheck`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("type".into(), Value::from(self.kind.name()));
        match self.kind {
            CheckType::Command => {
                out.insert(
                    "command".into(),
                    json!({"shell": true, "value": self.command.as_deref().unwrap_or("")}),
                );
            }
            CheckType::Http => {
                let mut http = Map::new();
                http.insert("port".into(), Value::from(self.port.unwrap_or(0)));
                if let Some(path) = &self.path {
                    http.insert("path".into(), Value::from(path.as_str()));
                }
                if let Some(scheme) = self.scheme {
                    let scheme = match scheme {
                        Scheme::Http => "http",
                        Scheme::Https => "https",
                    };
                    http.insert("scheme".into(), Value::from(scheme));
                }
                out.insert("http".into(), Value::Object(http));
            }
            CheckType::Tcp => {
                out.insert("tcp".into(), json!({"port": self.port.unwrap_or(0)}));
            }
        }
        out.insert("delay_seconds".into(), json!(self.delay_seconds));
        out.insert("interval_seconds".into(), json!(self.interval_seconds));
        out.insert("timeout_seconds".into(), json!(self.timeout_seconds));
        out.insert(
            "consecutive_failures".into(),
            json!(self.consecutive_failures),
        );
        out.insert(
            "grace_period_seconds".into(),
            json!(self.grace_period_seconds),
        );
        Value::Object(out)
    }
}

/// A kill policy: the grace between SIGTERM and SIGKILL.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillPolicy {
    pub grace_period_seconds: f64,
}

impl KillPolicy {
    pub fn problem(&self) -> Option<String> {
        (!in_range(self.grace_period_seconds)).then(|| {
            format!(
                "kill policy grace_period_seconds must be from 0 to {MAX_SECONDS:.0}, not {}",
                self.grace_period_seconds
            )
        })
    }

    /// The v1 JSON `KillPolicy`: the grace as a `DurationInfo`, rounded to
    /// the nanosecond as `ark.wire` rounds it.
    pub fn to_json(&self) -> Value {
        let nanoseconds = (self.grace_period_seconds * 1e9 + 0.5).floor() as i64;
        json!({"grace_period": {"nanoseconds": nanoseconds}})
    }
}

/// The first problem of a launch's or request's check and policy, if any.
pub fn problem(
    task_id: &str,
    health_check: Option<&HealthCheck>,
    kill_policy: Option<&KillPolicy>,
) -> Option<String> {
    let problem = health_check
        .and_then(HealthCheck::problem)
        .or_else(|| kill_policy.and_then(KillPolicy::problem))?;
    Some(format!("task {task_id:?}: {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(value: &str) -> HealthCheck {
        HealthCheck {
            kind: CheckType::Command,
            command: Some(value.into()),
            port: None,
            path: None,
            scheme: None,
            delay_seconds: 15.0,
            interval_seconds: 10.0,
            timeout_seconds: 20.0,
            consecutive_failures: 3,
            grace_period_seconds: 10.0,
        }
    }

    #[test]
    fn checks_are_validated_as_mesos_validates_them() {
        assert_eq!(command("test -f marker").problem(), None);
        assert!(command("").problem().is_some());
        let http = HealthCheck {
            kind: CheckType::Http,
            command: None,
            port: Some(8080),
            path: Some("/health".into()),
            scheme: Some(Scheme::Https),
            ..command("x")
        };
        assert_eq!(http.problem(), None);
        for bad in [
            HealthCheck {
                path: Some("health".into()),
                ..http.clone()
            },
            HealthCheck {
                port: Some(0),
                ..http.clone()
            },
            HealthCheck {
                kind: CheckType::Tcp,
                ..http.clone()
            },
            HealthCheck {
                interval_seconds: 0.0,
                ..http.clone()
            },
            HealthCheck {
                timeout_seconds: f64::NAN,
                ..http.clone()
            },
            HealthCheck {
                consecutive_failures: 0,
                ..http.clone()
            },
        ] {
            assert!(bad.problem().is_some(), "{bad:?}");
        }
        assert!(KillPolicy {
            grace_period_seconds: -1.0
        }
        .problem()
        .is_some());
    }

    #[test]
    fn json_has_mesos_s_shape() {
        assert_eq!(
            command("true").to_json(),
            json!({"type": "COMMAND", "command": {"shell": true, "value": "true"},
                   "delay_seconds": 15.0, "interval_seconds": 10.0, "timeout_seconds": 20.0,
                   "consecutive_failures": 3, "grace_period_seconds": 10.0})
        );
        assert_eq!(
            KillPolicy {
                grace_period_seconds: 2.5
            }
            .to_json(),
            json!({"grace_period": {"nanoseconds": 2_500_000_000_i64}})
        );
    }
}
