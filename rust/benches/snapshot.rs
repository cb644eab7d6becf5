//! Writes while a snapshot is held, as the Scheduler holds one: it replaces
//! its snapshot after every step, so each write may copy what the previous
//! snapshot still shares. `bench/reducer.py` measures the same from Python.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ark_core::effects::Effect;
use ark_core::messages::{Message, Source, TaskState, TaskStatus};
use ark_core::reducer::Reducer;
use ark_core::state::State;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const TASKS: usize = 200_000;

fn task_id(i: usize) -> String {
    format!("task-{i:07}")
}

fn agent_id(i: usize) -> String {
    format!("agent-{}", i / 100)
}

/// A reducer tracking `TASKS` tasks, as a new leader does from its store.
fn loaded() -> Reducer {
    let mut r = Reducer::default();
    let mut out = Vec::new();
    for i in 0..TASKS {
        let track = Message::Track {
            task_id: task_id(i),
            agent_id: Some(agent_id(i)),
            request: None,
        };
        r.step(track, 0.0, &mut out).unwrap();
    }
    r
}

/// Steps `batch` TASK_RUNNING updates per iteration, spread over the tasks,
/// with fresh uuids and timestamps so that every one applies. With `hold`, a
/// new snapshot replaces the held one after each batch, and that replacing
/// (which frees what only the old one shared) is timed too.
fn run(
    reducer: &mut Reducer,
    ids: &[(String, String)],
    seq: &mut u64,
    batch: usize,
    hold: bool,
    iters: u64,
) -> Duration {
    let mut held: Option<State> = hold.then(|| reducer.state.clone());
    let mut out: Vec<Effect> = Vec::with_capacity(batch);
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let uuids: Vec<[u8; 16]> = (0..batch)
            .map(|_| {
                *seq += 1;
                let mut uuid = [0u8; 16];
                uuid[..8].copy_from_slice(&seq.to_le_bytes());
                uuid
            })
            .collect();
        let messages: Vec<Message> = uuids
            .iter()
            .map(|uuid| {
                let k = u64::from_le_bytes(uuid[..8].try_into().unwrap());
                let (task, agent) = &ids[(k as usize).wrapping_mul(7919) % TASKS];
                Message::Update(TaskStatus {
                    task_id: task,
                    state: TaskState::Running,
                    agent_id: Some(agent),
                    executor_id: None,
                    reason: None,
                    source: Some(Source::Executor),
                    message: None,
                    uuid: Some(&uuid[..]),
                    timestamp: Some(k as f64),
                    healthy: None,
                })
            })
            .collect();
        out.clear();
        let start = Instant::now();
        for m in messages {
            reducer.step(m, 1.0, &mut out).unwrap();
        }
        if hold {
            held = Some(reducer.state.clone());
        }
        total += start.elapsed();
    }
    black_box(held);
    total
}

fn bench(c: &mut Criterion) {
    let mut reducer = loaded();
    let ids: Vec<(String, String)> = (0..TASKS).map(|i| (task_id(i), agent_id(i))).collect();
    let mut seq = 0u64;
    let mut group = c.benchmark_group("write_at_200k");
    for batch in [1usize, 1024] {
        for hold in [false, true] {
            let name = if hold { "snapshot_held" } else { "no_snapshot" };
            group.bench_function(BenchmarkId::new(name, batch), |b| {
                b.iter_custom(|iters| run(&mut reducer, &ids, &mut seq, batch, hold, iters))
            });
        }
    }
    group.bench_function("take_snapshot", |b| {
        b.iter(|| black_box(reducer.state.clone()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
