//! Showroom predict-one over the socket, between two processes: a real `mld`
//! (release build) and this client. Baseline in the same run: a `Ping`, the
//! cheapest round trip the daemon answers. Reports p50/p99 of each and the
//! ratio.
//!
//! `cargo bench -p mld-tests --bench predict_roundtrip` (builds `mld` in
//! release first: the daemon binary is taken from the same target folder).

use mld_shared::protocol::{PredictInput, Request, Response};
use mld_tests::client::Client;
use mld_tests::process::MldProcess;
use std::time::{Duration, Instant};

const ROUNDS: usize = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn time(client: &mut Client, request: impl Fn(usize) -> Request) -> Vec<Duration> {
    let mut out = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let started = Instant::now();
        let answer = client.request(request(i)).await;
        out.push(started.elapsed());
        assert!(answer.is_ok(), "{answer:?}");
    }
    out.sort();
    out
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let iris = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv");
    let registry = dir.path().join("registry");
    let reg = mld::model::Registry::open(&registry, None).unwrap();
    mld::training::demo::ensure_iris_model(&reg, &iris).unwrap();
    let config = dir.path().join("mld.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\nlog_level = \"warn\"\n[models]\nregistry = {:?}\n",
            registry.display().to_string()
        ),
    )
    .unwrap();
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&config, &socket);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = Client::connect(&socket).await.unwrap();
        // Warm up: the first predict loads the model into the daemon's cache.
        let predict = |i: usize| Request::Predict {
            model: "iris".into(),
            version: None,
            input: PredictInput::Positional(vec![5.0 + (i % 20) as f64 / 10.0, 3.4, 1.5, 0.2]),
        };
        for i in 0..200 {
            assert!(matches!(
                client.request(predict(i)).await,
                Ok(Response::Prediction(_))
            ));
            client.request(Request::Ping).await.unwrap();
        }
        let ping = time(&mut client, |_| Request::Ping).await;
        let pred = time(&mut client, predict).await;
        let (p50, p99) = (percentile(&ping, 0.5), percentile(&ping, 0.99));
        let (q50, q99) = (percentile(&pred, 0.5), percentile(&pred, 0.99));
        println!("{ROUNDS} round trips each, between processes over the Unix socket");
        println!(
            "ping        p50 {:>8.1} µs   p99 {:>8.1} µs",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
        println!(
            "predict-one p50 {:>8.1} µs   p99 {:>8.1} µs",
            q50.as_secs_f64() * 1e6,
            q99.as_secs_f64() * 1e6
        );
        println!(
            "ratio predict/ping: p50 {:.2}x, p99 {:.2}x",
            q50.as_secs_f64() / p50.as_secs_f64(),
            q99.as_secs_f64() / p99.as_secs_f64()
        );
    });
}
