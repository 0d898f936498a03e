//! Server selection throughput: 3-, 7- and 50-member replica sets with tags, a max staleness
//! where allowed and a latency window that keeps some members out, for every mode.
//!
//! `cargo bench --bench selection -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mongo_topology::selection::{
    select_server, ReadPreference, SelectionCriteria, SelectionSettings, TagSet,
};
use rand::rngs::SmallRng;
use rand::SeedableRng;

#[path = "../crates/core/tests/selection_support/mod.rs"]
mod selection_support;

use selection_support::replica_set;

fn criteria() -> Vec<(&'static str, SelectionCriteria)> {
    let rp = |mode: &str, tag_sets: &[TagSet], max: Option<i64>| {
        SelectionCriteria::read(ReadPreference::from_uri_parts(Some(mode), tag_sets, max).unwrap())
    };
    let dc = |name: &str| -> TagSet { [("dc".to_string(), name.to_string())].into() };
    vec![
        ("primary", rp("primary", &[], None)),
        (
            "primaryPreferred",
            rp("primaryPreferred", &[dc("sf")], Some(120)),
        ),
        (
            "secondary",
            rp("secondary", &[dc("sf"), TagSet::new()], Some(120)),
        ),
        (
            "secondaryPreferred",
            rp("secondaryPreferred", &[dc("tokyo")], Some(120)),
        ),
        ("nearest", rp("nearest", &[dc("ny")], None)),
    ]
}

fn selection(c: &mut Criterion) {
    let settings = SelectionSettings::default();
    for members in [3, 7, 50] {
        let topology = replica_set(members);
        let mut group = c.benchmark_group(format!("select/{members}-members"));
        group.throughput(Throughput::Elements(1));
        for (mode, criteria) in criteria() {
            let mut rng = SmallRng::seed_from_u64(42);
            group.bench_function(BenchmarkId::from_parameter(mode), |b| {
                b.iter(|| {
                    let chosen = select_server(
                        black_box(&topology),
                        black_box(&criteria),
                        &settings,
                        &[],
                        &mut rng,
                        |server| {
                            server
                                .round_trip_time
                                .map_or(0, |rtt| rtt.as_millis() as u64 % 4)
                        },
                    );
                    black_box(chosen.is_ok())
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, selection);
criterion_main!(benches);
