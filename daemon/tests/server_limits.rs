//! What one connection can take from an in-process daemon, as its own user
//! (an admin): requests in flight, frame and handshake sizes, deadlines,
//! answers too large for a frame, row limits, the denial counts and the
//! catalog cache. What needs other Unix users (no role, per-user caps,
//! admin-reserved slots, roles after a reload) is in tests/tests/abuse.rs.

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use mld_shared::frame;
use mld_shared::ids::{DispatchId, JobName, RequestId};
use mld_shared::protocol::*;
use mld_shared::time::WireTime;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

mod in_process;
use in_process::Daemon;

fn config(limits: &str) -> String {
    format!(
        "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\n\n[monitor]\nrefresh = \"60s\"\n\n\
         [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
         [models.datasets.iris]\ncsv = \"iris.csv\"\nlabel = \"species\"\n\n\
         [[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\nquery = \"SELECT id, x FROM t\"\n\
         key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"0 2 * * *\"\n\n[limits]\n{limits}\n"
    )
}

async fn start(limits: &str) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv"),
        dir.path().join("iris.csv"),
    )
    .unwrap();
    in_process::start_in(dir, &config(limits)).await
}

async fn connect(socket: &Path) -> Stream {
    Stream::connect(socket.to_fs_name::<GenericFilePath>().unwrap())
        .await
        .unwrap()
}

async fn recv<T: serde::de::DeserializeOwned>(s: &mut Stream) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(10), frame::read_message(s))
        .await
        .expect("timely answer")
        .unwrap()
}

async fn client(socket: &Path) -> Stream {
    let mut s = connect(socket).await;
    frame::write_message(&mut s, &Hello::new("test"))
        .await
        .unwrap();
    match recv::<HelloReply>(&mut s).await {
        Some(HelloReply::Welcome(_)) => s,
        other => panic!("expected welcome, got {other:?}"),
    }
}

async fn ask(s: &mut Stream, id: u64, request: Request) -> Result<Response, WireError> {
    let f = ClientFrame {
        id: RequestId(id),
        request,
    };
    frame::write_message(s, &f).await.unwrap();
    loop {
        match recv::<ServerFrame>(s).await.expect("connection open") {
            ServerFrame::Response { id: got, result } => {
                assert_eq!(got, RequestId(id));
                return result;
            }
            ServerFrame::Update(_) => continue,
            ServerFrame::Closing { reason } => panic!("closed: {reason}"),
        }
    }
}

/// Reads until the daemon closes; the `Closing` reason if one came.
async fn closed_with(s: &mut Stream, within: Duration) -> Option<String> {
    let mut reason = None;
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, frame::read_message::<ServerFrame, _>(s)).await {
            Ok(Ok(Some(ServerFrame::Closing { reason: r }))) => reason = Some(r),
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => return reason,
            Err(_) => panic!("the daemon did not close the connection within {within:?}"),
        }
    }
}

fn ping_frames(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend(
            frame::encode(&ClientFrame {
                id: RequestId(i as u64),
                request: Request::Ping,
            })
            .unwrap(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_that_never_reads_answers_stops_being_read_and_is_cut_off() {
    let d = start("requests_in_flight = 4\nwrite_timeout = \"1s\"\n").await;
    let mut other = client(&d.socket).await;
    let mut flooder = client(&d.socket).await;
    // 500,000 pings (3.5 MB), never reading an answer. A daemon that read
    // them all (each on its own task) would take them all in; this one stops
    // reading once 4 are unanswered and the flooder's writes block.
    let flood = ping_frames(500_000);
    let writing = tokio::spawn(async move {
        let r = flooder.write_all(&flood).await;
        (r, flooder)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!writing.is_finished(), "the daemon read the whole flood");
    // Meanwhile everyone else is answered at once.
    for i in 0..20 {
        let t = Instant::now();
        assert_eq!(ask(&mut other, i, Request::Ping).await, Ok(Response::Pong));
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
    }
    // The flooder takes no answer for write_timeout: the daemon hangs up, and
    // its remaining writes fail.
    let (result, _flooder) = tokio::time::timeout(Duration::from_secs(10), writing)
        .await
        .expect("the flooder was cut off")
        .unwrap();
    assert!(result.is_err(), "the whole flood was read");
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.context.clients() != 1 {
        assert!(Instant::now() < deadline, "the flooder's connection stayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ask(&mut other, 99, Request::Ping).await, Ok(Response::Pong));
    d.stop().await;
}

#[tokio::test]
async fn a_hello_over_four_kib_is_refused() {
    let d = start("").await;
    let mut s = connect(&d.socket).await;
    frame::write_message(&mut s, &Hello::new("x".repeat(5000)))
        .await
        .unwrap();
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        frame::read_message::<HelloReply, _>(&mut s),
    )
    .await
    .unwrap();
    assert!(
        !matches!(reply, Ok(Some(HelloReply::Welcome(_)))),
        "{reply:?}"
    );
    // A normal hello still works.
    let mut ok = client(&d.socket).await;
    assert_eq!(ask(&mut ok, 1, Request::Ping).await, Ok(Response::Pong));
    d.stop().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_and_a_subscribed_one_stays() {
    let d = start("idle_timeout = \"500ms\"\n").await;
    let mut idle = client(&d.socket).await;
    let mut watching = client(&d.socket).await;
    assert!(matches!(
        ask(&mut watching, 1, Request::Subscribe).await,
        Ok(Response::Subscribed(_))
    ));
    let t = Instant::now();
    let reason = closed_with(&mut idle, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(reason.contains("without a request"), "{reason}");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        ask(&mut watching, 2, Request::Ping).await,
        Ok(Response::Pong)
    );
    d.stop().await;
}

#[tokio::test]
async fn a_frame_sent_byte_by_byte_is_cut_at_the_frame_deadline() {
    let d = start("frame_timeout = \"1s\"\n").await;
    let mut other = client(&d.socket).await;
    let mut slow = client(&d.socket).await;
    let bytes = ping_frames(1);
    let t = Instant::now();
    let trickle = tokio::spawn(async move {
        for b in bytes {
            if slow.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        slow
    });
    assert_eq!(ask(&mut other, 1, Request::Ping).await, Ok(Response::Pong));
    let mut slow = trickle.await.unwrap();
    let reason = closed_with(&mut slow, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(reason.contains("not finished within 1s"), "{reason}");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert_eq!(ask(&mut other, 2, Request::Ping).await, Ok(Response::Pong));
    d.stop().await;
}

/// A finished dispatch with `n` predictions whose keys are `key_len` long.
async fn dispatch_with_predictions(d: &Daemon, n: usize, key_len: usize) -> DispatchId {
    use mld::dispatch::record::{NewDispatch, Trigger};
    use mld::dispatch::store;
    d.context
        .eventlog
        .write(move |tx| {
            let id = store::create(
                tx,
                &NewDispatch {
                    job: "score".into(),
                    trigger: Trigger::Manual,
                    requested_by: "test".into(),
                    slot: None,
                    model: "iris".into(),
                    model_version: "1".into(),
                    model_hash: "x".into(),
                },
                jiff::Timestamp::now(),
            )?;
            let keys: Vec<String> = (0..n).map(|i| format!("{i:0key_len$}")).collect();
            let labels: Vec<std::sync::Arc<str>> = (0..n).map(|_| "setosa".into()).collect();
            let scores = vec![0.5; n];
            let outcomes = mld::dispatch::record::Outcomes::Classes { labels, scores };
            store::store_batch(tx, id, &keys, &outcomes, &[], jiff::Timestamp::now())?;
            Ok(id)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn an_answer_too_large_for_a_frame_is_an_error_answer_not_a_dropped_connection() {
    let d = start("").await;
    // 10,000 keys of 2,000 characters: a 20 MB page, over the 16 MiB frame.
    let id = dispatch_with_predictions(&d, 10_000, 2_000).await;
    let mut c = client(&d.socket).await;
    let err = ask(
        &mut c,
        1,
        Request::DispatchPredictions {
            id,
            after_key: None,
            filter: None,
            limit: 10_000,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(
        err.message.contains("the answer is too large to send"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("narrow the window or ask for fewer"),
        "{}",
        err.message
    );
    // A smaller page of the same dispatch is answered on the same connection.
    let Ok(Response::Predictions(page)) = ask(
        &mut c,
        2,
        Request::DispatchPredictions {
            id,
            after_key: None,
            filter: None,
            limit: 1_000,
        },
    )
    .await
    else {
        panic!()
    };
    assert_eq!((page.total, page.rows.len()), (10_000, 1_000));
    d.stop().await;
}

#[tokio::test]
async fn asking_for_more_rows_than_max_rows_says_to_narrow_it() {
    let d = start("max_rows = 100\n").await;
    let id = dispatch_with_predictions(&d, 150, 8).await;
    // 150 slot decisions of the job.
    let log = d.dir.path().join("state/events.db");
    {
        let c = rusqlite::Connection::open(&log).unwrap();
        for i in 0..150i64 {
            c.execute(
                "INSERT INTO slot_decisions(job, slot_ms, decision, decided_at_ms) VALUES ('score', ?1, 'missed', ?1)",
                [1_700_000_000_000 + i * 60_000],
            )
            .unwrap();
        }
    }
    let mut c = client(&d.socket).await;
    let too_large = |r: Result<Response, WireError>| {
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{e}");
        assert!(e.message.starts_with("too large: "), "{e}");
        assert!(e.message.contains("narrow the window"), "{e}");
    };
    let job = || JobName("score".into());
    too_large(
        ask(
            &mut c,
            1,
            Request::Slots {
                job: job(),
                since: WireTime(0),
            },
        )
        .await,
    );
    too_large(
        ask(
            &mut c,
            2,
            Request::Dispatches {
                from: WireTime(0),
                to: WireTime(i64::MAX),
                job: None,
                limit: 101,
            },
        )
        .await,
    );
    too_large(
        ask(
            &mut c,
            3,
            Request::DispatchPredictions {
                id,
                after_key: None,
                filter: None,
                limit: 101,
            },
        )
        .await,
    );
    too_large(
        ask(
            &mut c,
            4,
            Request::DryRun {
                job: job(),
                rows: 101,
            },
        )
        .await,
    );
    // Within the limit, the same requests are answered.
    let Ok(Response::Slots(slots)) = ask(
        &mut c,
        5,
        Request::Slots {
            job: job(),
            since: WireTime(1_700_000_000_000 + 60 * 60_000),
        },
    )
    .await
    else {
        panic!()
    };
    assert_eq!(slots.len(), 90);
    let Ok(Response::Predictions(page)) = ask(
        &mut c,
        6,
        Request::DispatchPredictions {
            id,
            after_key: None,
            filter: None,
            limit: 100,
        },
    )
    .await
    else {
        panic!()
    };
    assert_eq!(page.rows.len(), 100);
    d.stop().await;
}

#[tokio::test]
async fn denials_are_written_once_per_uid_and_minute_with_a_count() {
    let d = start("").await;
    let peer = |uid: u32, user: &str| mld::access::Peer {
        uid,
        gid: uid,
        pid: None,
        user: user.into(),
        groups: vec![],
        roles: mld_shared::roles::Roles::none().with(mld_shared::roles::Role::Showroom),
    };
    let (carol, dave) = (peer(4242, "carol"), peer(4343, "dave"));
    let t = Instant::now();
    for i in 0..20_000 {
        let who = if i % 4 == 0 { &dave } else { &carol };
        let err = mld::server::handlers::authorize(&d.context, who, &Request::Jobs)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::PermissionDenied);
    }
    // Two rows, not 20,000 fsync'd ones: this takes well under the minute.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let rows = d
        .context
        .eventlog
        .read(mld::access::store::all)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    // The counts land with the next flush (every minute, and at shutdown).
    d.context.denials.flush().await;
    let rows = d
        .context
        .eventlog
        .read(mld::access::store::all)
        .await
        .unwrap();
    let counts: Vec<(String, u32, String, String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.user.clone(),
                r.uid,
                r.request.clone(),
                r.needed.clone(),
                r.count,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("dave".into(), 4343, "jobs".into(), "dispatch".into(), 5_000),
            (
                "carol".into(),
                4242,
                "jobs".into(),
                "dispatch".into(),
                15_000
            ),
        ]
    );
    assert!(rows.iter().all(|r| r.last_at.is_some_and(|l| l >= r.at)));
    d.stop().await;
}

#[tokio::test]
async fn the_catalog_is_built_once_and_again_when_its_csv_changes() {
    let d = start("").await;
    let mut c = client(&d.socket).await;
    let records = |r: Result<Response, WireError>| match r {
        Ok(Response::Catalog(c)) => c.datasets[0].records,
        other => panic!("{other:?}"),
    };
    for i in 0..50 {
        assert_eq!(records(ask(&mut c, i, Request::Catalog).await), 150);
    }
    assert_eq!(d.context.catalog.builds(), 1, "one build for 50 requests");
    // The CSV grows by a row: the next request sees it.
    let csv = d.dir.path().join("iris.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    let last = text.lines().last().unwrap().to_string();
    text.push_str(&last);
    text.push('\n');
    std::fs::write(&csv, text).unwrap();
    assert_eq!(records(ask(&mut c, 100, Request::Catalog).await), 151);
    assert_eq!(d.context.catalog.builds(), 2);
    // A reload builds it again (the datasets may have changed).
    mld::Handle {
        context: d.context.clone(),
    }
    .reload("test")
    .await
    .unwrap();
    assert_eq!(records(ask(&mut c, 101, Request::Catalog).await), 151);
    assert_eq!(d.context.catalog.builds(), 3);
    d.stop().await;
}

#[tokio::test]
async fn a_small_frame_that_decodes_into_a_huge_request_closes_that_connection() {
    let d = start("").await;
    let mut other = client(&d.socket).await;
    let mut bad = client(&d.socket).await;
    // A 2 MB ImportOnnx of 2,000,000 empty feature names: ~48 MB once decoded.
    let f = ClientFrame {
        id: RequestId(1),
        request: Request::ImportOnnx {
            name: "m".into(),
            features: vec![String::new(); 2_000_000],
            labels: None,
            onnx: vec![],
        },
    };
    let bytes = frame::encode(&f).unwrap();
    assert!(bytes.len() < 2_100_000);
    bad.write_all(&bytes).await.unwrap();
    let reason = closed_with(&mut bad, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(reason.contains("decodes to more than"), "{reason}");
    assert_eq!(ask(&mut other, 1, Request::Ping).await, Ok(Response::Pong));
    d.stop().await;
}
