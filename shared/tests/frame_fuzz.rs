//! Property tests of the frame decoder: random bytes, requests of every kind
//! with garbage fields, and valid frames with bytes flipped, cut, repeated
//! or inserted. Whatever comes in, decoding returns a message or an error —
//! it never panics, never reads past the payload, and what it accepts
//! re-encodes to the same bytes again. 10,000 cases each.

use mld_shared::frame::{self, FrameError, MAX_FRAME_LEN, MAX_HELLO_LEN, decode_budget};
use mld_shared::ids::{DispatchId, JobName, RequestId};
use mld_shared::protocol::*;
use mld_shared::time::WireTime;
use proptest::prelude::*;

const CASES: u32 = 10_000;

fn samples() -> Vec<ClientFrame> {
    let job = || JobName("nightly".into());
    let requests = vec![
        Request::Ping,
        Request::Status,
        Request::Subscribe,
        Request::Jobs,
        Request::DisableJob {
            job: job(),
            reason: Some("maintenance {window}".into()),
            until: Some(WireTime(1_795_435_549_601)),
        },
        Request::DryRun {
            job: job(),
            rows: 10,
        },
        Request::Slots {
            job: job(),
            since: WireTime(0),
        },
        Request::Dispatches {
            from: WireTime(0),
            to: WireTime(i64::MAX),
            job: Some(job()),
            limit: 100,
        },
        Request::DispatchPredictions {
            id: DispatchId(3),
            after_key: Some("k-17".into()),
            filter: None,
            limit: 50,
        },
        Request::Train(TrainSpec {
            dataset: "iris".into(),
            model: "random_forest".into(),
            hyperparameters: vec![("n_trees".into(), "10".into())],
            test_split: 0.25,
            seed: Some(7),
        }),
        Request::ImportOnnx {
            name: "m".into(),
            features: vec!["a".into(), "b".into()],
            labels: Some(vec!["x".into(), "y".into()]),
            onnx: vec![8, 7, 18, 4, 0, 1, 2, 3],
        },
        Request::Predict {
            model: "iris".into(),
            version: None,
            input: PredictInput::Named(vec![("sepal_length".into(), 5.1)]),
        },
        Request::Predict {
            model: "iris".into(),
            version: Some(2),
            input: PredictInput::Positional(vec![5.1, 3.5, 1.4, 0.2]),
        },
    ];
    requests
        .into_iter()
        .enumerate()
        .map(|(i, request)| ClientFrame {
            id: RequestId(i as u64 * 1000),
            request,
        })
        .collect()
}

fn payload(f: &ClientFrame) -> Vec<u8> {
    frame::encode(f).unwrap()[4..].to_vec()
}

/// Decodes as the daemon does; what it accepts must survive a round trip.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    match frame::decode_within::<ClientFrame>(bytes, decode_budget(bytes.len())) {
        Ok(f) => {
            // Compared as bytes: a flipped bit may make a NaN, which is not equal to itself.
            let again = payload(&f);
            let back: ClientFrame = frame::decode(&again).unwrap();
            prop_assert_eq!(payload(&back), again);
        }
        Err(FrameError::Malformed(_) | FrameError::DecodesTooLarge { .. }) => {}
        Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
    }
    match frame::decode_within::<Hello>(bytes, decode_budget(bytes.len())) {
        Ok(h) => prop_assert_eq!(
            frame::decode::<Hello>(&frame::encode(&h).unwrap()[4..]).unwrap(),
            h
        ),
        Err(FrameError::Malformed(_) | FrameError::DecodesTooLarge { .. }) => {}
        Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Cut { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Repeat { from: usize, len: usize, times: u8 },
    Overwrite { at: usize, value: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1..8usize, 1..50u8).prop_map(|(from, len, times)| Mutation::Repeat {
            from,
            len,
            times
        }),
        // Length prefixes and varints: the bytes that announce sizes.
        (
            any::<usize>(),
            prop::sample::select(vec![0u8, 0x7f, 0x80, 0xfb, 0xfc, 0xfd, 0xfe, 0xff])
        )
            .prop_map(|(at, value)| Mutation::Overwrite { at, value }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        bytes.push(0);
    }
    let n = bytes.len();
    match m {
        Mutation::Flip { at, bits } => bytes[at % n] ^= bits,
        Mutation::Cut { at } => bytes.truncate(at % n),
        Mutation::Insert { at, bytes: b } => {
            let at = at % (n + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        Mutation::Repeat { from, len, times } => {
            let from = from % n;
            let piece: Vec<u8> = bytes[from..(from + len).min(n)].to_vec();
            let at = (from + piece.len()).min(n);
            for _ in 0..*times {
                bytes.splice(at..at, piece.iter().copied());
            }
        }
        Mutation::Overwrite { at, value } => bytes[at % n] = *value,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes)?;
    }

    #[test]
    fn every_request_kind_with_garbage_fields_never_panics(
        id in any::<u64>(),
        variant in 0u8..40,
        tail in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        // A valid id and request tag, then whatever: reaches each variant's field decoding.
        let mut bytes = frame::encode(&id).unwrap()[4..].to_vec();
        bytes.push(variant);
        bytes.extend(tail);
        check(&bytes)?;
    }

    #[test]
    fn mutated_valid_frames_decode_or_are_refused(
        which in 0usize..13,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let samples = samples();
        let mut bytes = payload(&samples[which % samples.len()]);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check(&bytes)?;
    }

    #[test]
    fn mutated_whole_frames_through_the_reader_end_in_a_message_or_an_error(
        which in 0usize..13,
        mutations in prop::collection::vec(mutation(), 1..4),
        max in prop::sample::select(vec![MAX_HELLO_LEN, 64 * 1024, MAX_FRAME_LEN]),
    ) {
        let samples = samples();
        let mut bytes = frame::encode(&samples[which % samples.len()]).unwrap();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let result = rt.block_on(async {
            let mut reader = &bytes[..];
            let mut frames = 0;
            loop {
                match frame::read_payload_within(&mut reader, max, None).await {
                    Ok(Some(p)) => {
                        prop_assert!(p.len() <= max);
                        frames += 1;
                        check(&p)?;
                    }
                    Ok(None) => return Ok(frames),
                    Err(FrameError::Truncated | FrameError::TooLarge { .. }) => return Ok(frames),
                    Err(other) => prop_assert!(false, "unexpected error: {other}"),
                }
            }
        });
        let frames: usize = result?;
        prop_assert!(frames <= bytes.len() / 4 + 1);
    }
}
