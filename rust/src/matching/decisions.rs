//! A cycle's output: the accepts, declines and pending requests, borrowed
//! from the input.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::health::{HealthCheck, KillPolicy};
use crate::request::{PodTask, RequestResource};

/// A launch's resource, as `ark.messages.Resource` (never a set).
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct OutResource<'a> {
    pub name: &'a str,
    pub scalar: Option<f64>,
    pub ranges: Option<&'a [(i64, i64)]>,
    pub set: Option<&'a [&'a str]>,
    pub role: &'a str,
}

/// A launch, as `ark.messages.Launch`. Its resources are the request's
/// scalars plus the ports taken, written out when asked for: a cycle of
/// 50,000 launches then allocates no list of resources per launch.
#[derive(Clone, Debug, PartialEq)]
pub struct OutLaunch<'a> {
    pub task_id: &'a str,
    pub name: &'a str,
    pub(super) scalars: &'a [RequestResource<'a>],
    pub(super) ports: Option<Vec<(i64, i64)>>,
    pub payload: &'a [u8],
    /// The port each of the request's `port_names` got, in the request's order.
    pub named_ports: Vec<(&'a str, i64)>,
    pub health_check: Option<&'a HealthCheck>,
    pub kill_policy: Option<KillPolicy>,
    /// A pod's members, as requested.
    pub pod: &'a [PodTask<'a>],
}

impl OutLaunch<'_> {
    /// The scalars as asked, then one `ports` resource with the ranges taken.
    pub fn resources(&self) -> impl ExactSizeIterator<Item = OutResource<'_>> + '_ {
        let scalars = self.scalars.iter().map(|r| OutResource {
            name: r.name,
            scalar: Some(r.scalar.unwrap_or(0.0)),
            ranges: None,
            set: None,
            role: r.role,
        });
        let ports = self.ports.as_deref().map(|taken| OutResource {
            name: "ports",
            scalar: None,
            ranges: Some(taken),
            set: None,
            role: "*",
        });
        let n = self.scalars.len() + usize::from(ports.is_some());
        Counted(scalars.chain(ports), n)
    }
}

/// An iterator that knows its length (`Chain` does not say it is exact).
struct Counted<I>(I, usize);

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        let item = self.0.next()?;
        self.1 -= 1;
        Some(item)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, Some(self.1))
    }
}

impl<I: Iterator> ExactSizeIterator for Counted<I> {}

impl Serialize for OutLaunch<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Resources<'l, 'a>(&'l OutLaunch<'a>);
        impl Serialize for Resources<'_, '_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.resources())
            }
        }
        let mut out = serializer.serialize_struct("OutLaunch", 8)?;
        out.serialize_field("task_id", self.task_id)?;
        out.serialize_field("name", self.name)?;
        out.serialize_field("resources", &Resources(self))?;
        out.serialize_field("payload", serde_bytes::Bytes::new(self.payload))?;
        out.serialize_field("named_ports", &self.named_ports)?;
        out.serialize_field("health_check", &self.health_check)?;
        out.serialize_field("kill_policy", &self.kill_policy)?;
        out.serialize_field("pod", self.pod)?;
        out.end()
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Placement<'a> {
    pub agent_id: &'a str,
    pub offer_ids: Vec<&'a str>,
    pub launches: Vec<OutLaunch<'a>>,
    /// The role the offers are allocated to: the ACCEPT answers in it.
    pub role: Option<&'a str>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Pending<'a> {
    pub task_id: &'a str,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Decisions<'a> {
    pub accepts: Vec<Placement<'a>>,
    pub declines: Vec<&'a str>,
    pub pending: Vec<Pending<'a>>,
}
