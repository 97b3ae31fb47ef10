//! What decoding a hostile request costs in memory, measured with a counting
//! allocator (so this file holds one test: the count is process-wide).
//!
//! The budget ([`decode_budget`]) is charged before each element is built,
//! so the peak stays within three times the budget (a `Vec` that doubles
//! holds its old and new buffers for a moment) plus serde's bounded
//! pre-allocation (1 MiB per list), whatever the frame claims.
#![allow(unsafe_code)] // the counting allocator below; it only forwards to the system allocator

use mld_shared::frame::{self, FrameError, decode_budget};
use mld_shared::ids::RequestId;
use mld_shared::protocol::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak bytes allocated above the starting point while `f` runs.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - base)
}

fn payload(request: Request) -> Vec<u8> {
    frame::encode(&ClientFrame {
        id: RequestId(1),
        request,
    })
    .unwrap()[4..]
        .to_vec()
}

#[test]
fn hostile_requests_decode_within_their_budget() {
    const MIB: usize = 1024 * 1024;
    let hostile = [
        // The 2 MB ImportOnnx of empty names (decoded to ~63 MiB before).
        payload(Request::ImportOnnx {
            name: String::new(),
            features: vec![String::new(); 2_000_000],
            labels: Some(vec![String::new(); 100_000]),
            onnx: vec![],
        }),
        // Named inputs with empty names: 9 bytes on the wire, 32 in memory.
        payload(Request::Predict {
            model: String::new(),
            version: None,
            input: PredictInput::Named(vec![(String::new(), 0.0); 1_000_000]),
        }),
        // Hyperparameters: two empty strings, 2 bytes on the wire, 48 in memory.
        payload(Request::Train(TrainSpec {
            dataset: String::new(),
            model: String::new(),
            hyperparameters: vec![(String::new(), String::new()); 2_000_000],
            test_split: 0.5,
            seed: None,
        })),
    ];
    for bytes in &hostile {
        let budget = decode_budget(bytes.len());
        let (result, peak) = peak_of(|| frame::decode_within::<ClientFrame>(bytes, budget));
        assert!(
            matches!(result, Err(FrameError::DecodesTooLarge { .. })),
            "{:?}",
            result.map(|_| ())
        );
        assert!(
            peak <= 3 * budget + 2 * MIB,
            "a {} byte frame peaked at {peak} bytes (budget {budget})",
            bytes.len()
        );
    }
    // An honest large import (1 MB of model bytes, 500 names) fits its budget.
    let honest = payload(Request::ImportOnnx {
        name: "churn".into(),
        features: (0..500).map(|i| format!("feature_{i}")).collect(),
        labels: Some(vec!["no".into(), "yes".into()]),
        onnx: vec![1; MIB],
    });
    let budget = decode_budget(honest.len());
    let (result, peak) = peak_of(|| frame::decode_within::<ClientFrame>(&honest, budget));
    assert!(result.is_ok());
    assert!(peak <= 3 * budget + 2 * MIB, "{peak}");
}
