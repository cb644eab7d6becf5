//! Criterion micro-benchmarks of the hot path: decoding a message, stepping it.
//! The end-to-end comparison with the Python reference is `bench/reducer.py`.

use std::hint::black_box;

use ark_core::effects::Effect;
use ark_core::messages::Message;
use ark_core::reducer::Reducer;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::Serialize;

const TASKS: usize = 100_000;

/// Fields in the order of `ark.messages.TaskStatus`: messages are arrays.
#[derive(Serialize)]
struct Status<'a> {
    task_id: String,
    state: &'a str,
    agent_id: String,
    executor_id: Option<&'a str>,
    reason: Option<&'a str>,
    source: &'a str,
    message: Option<&'a str>,
    #[serde(with = "serde_bytes")]
    uuid: [u8; 16],
    timestamp: f64,
}

#[derive(Serialize)]
struct Update<'a> {
    r#type: &'a str,
    status: Status<'a>,
}

#[derive(Serialize)]
struct Resource<'a> {
    name: &'a str,
    scalar: f64,
}

#[derive(Serialize)]
struct Offer<'a> {
    id: String,
    agent_id: String,
    hostname: String,
    resources: Vec<Resource<'a>>,
}

#[derive(Serialize)]
struct Offers<'a> {
    r#type: &'a str,
    offers: Vec<Offer<'a>>,
}

#[derive(Serialize)]
struct Launch {
    task_id: String,
}

#[derive(Serialize)]
struct Accept<'a> {
    r#type: &'a str,
    offer_ids: Vec<String>,
    launches: Vec<Launch>,
}

#[derive(Serialize)]
struct Subscribed<'a> {
    r#type: &'a str,
    framework_id: &'a str,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec(value).unwrap()
}

fn update(i: usize, seq: u64) -> Vec<u8> {
    let mut uuid = [0u8; 16];
    uuid[..8].copy_from_slice(&seq.to_le_bytes());
    encode(&Update {
        r#type: "Update",
        status: Status {
            task_id: format!("task-{i}"),
            state: "TASK_RUNNING",
            agent_id: format!("agent-{}", i / 100),
            executor_id: None,
            reason: None,
            source: "SOURCE_EXECUTOR",
            message: None,
            uuid,
            timestamp: seq as f64,
        },
    })
}

/// A reducer with `TASKS` tasks launched, subscribed and reconciled.
fn loaded() -> Reducer {
    let mut r = Reducer::default();
    let mut out = Vec::new();
    let mut step = |r: &mut Reducer, bytes: Vec<u8>| {
        r.step(Message::decode(&bytes).unwrap(), 0.0, &mut out)
            .unwrap();
    };
    step(
        &mut r,
        encode(&Subscribed {
            r#type: "Subscribed",
            framework_id: "fw",
        }),
    );
    for batch in 0..TASKS / 100 {
        let agent = format!("agent-{batch}");
        let offer = Offers {
            r#type: "Offers",
            offers: vec![Offer {
                id: format!("offer-{batch}"),
                agent_id: agent.clone(),
                hostname: agent,
                resources: vec![Resource {
                    name: "cpus",
                    scalar: 100.0,
                }],
            }],
        };
        step(&mut r, encode(&offer));
        let accept = Accept {
            r#type: "Accept",
            offer_ids: vec![format!("offer-{batch}")],
            launches: (0..100)
                .map(|i| Launch {
                    task_id: format!("task-{}", batch * 100 + i),
                })
                .collect(),
        };
        step(&mut r, encode(&accept));
    }
    r
}

fn bench(c: &mut Criterion) {
    let updates: Vec<Vec<u8>> = (0..10_000)
        .map(|k| update(k * 7 % TASKS, k as u64 + 1))
        .collect();
    let mut group = c.benchmark_group("update");
    group.throughput(Throughput::Elements(updates.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            for bytes in &updates {
                black_box(Message::decode(black_box(bytes)).unwrap());
            }
        })
    });
    let decoded: Vec<Message> = updates
        .iter()
        .map(|b| Message::decode(b).unwrap())
        .collect();
    let mut reducer = loaded();
    let mut seq = 1_000_000u64;
    group.bench_function("step", |b| {
        b.iter_custom(|iterations| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iterations {
                // Fresh uuids and timestamps, so that every update applies.
                let encoded: Vec<Vec<u8>> = (0..updates.len())
                    .map(|k| {
                        seq += 1;
                        update(k * 7 % TASKS, seq)
                    })
                    .collect();
                let messages: Vec<Message> = encoded
                    .iter()
                    .map(|b| Message::decode(b).unwrap())
                    .collect();
                let mut out: Vec<Effect> = Vec::with_capacity(messages.len());
                let start = std::time::Instant::now();
                for m in messages {
                    reducer.step(m, 1.0, &mut out).unwrap();
                }
                total += start.elapsed();
                black_box(out);
            }
            total
        })
    });
    group.bench_function("encode_effects", |b| {
        let mut r = loaded();
        let mut out = Vec::new();
        for m in decoded.clone() {
            r.step(m, 1.0, &mut out).unwrap();
        }
        b.iter(|| black_box(ark_core::effects::encode(&out)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
