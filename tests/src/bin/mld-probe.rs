//! `mld-probe`: a protocol-level client the tests run as other Unix users
//! (through `runuser`), to see the daemon as they see it. Prints one JSON
//! object per line.
//!
//! ```text
//! mld-probe SOCKET ask '[REQUEST, ...]'   handshake, then each request (JSON) in turn
//! mld-probe SOCKET session                handshake, then one request per stdin line
//! mld-probe SOCKET hold N [hello]         open N connections (with a Hello, or silent)
//!                                         and keep them until stdin closes
//! mld-probe SOCKET announce BYTES         handshake, then the length prefix of a frame
//!                                         of BYTES, and what the daemon says
//! mld-probe SOCKET flood N REQUEST        handshake, then REQUEST (JSON) N times without
//!                                         waiting for answers, reading them meanwhile;
//!                                         how many were answered, denied, and how fast
//! ```
//!
//! Answers print as `{"ok": "Variant"}` or `{"err": {"kind": ..., "message": ...}}`;
//! a refused handshake as `{"refused": reason}`.

use std::collections::BTreeMap;
use std::time::Duration;

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use mld_shared::frame;
use mld_shared::ids::RequestId;
use mld_shared::protocol::*;
use serde_json::{Value, json};

async fn connect(socket: &str) -> std::io::Result<Stream> {
    Stream::connect(socket.to_fs_name::<GenericFilePath>()?).await
}

/// Connects and says hello: the stream, or what the daemon said instead.
async fn hello(socket: &str) -> Result<(Stream, Welcome), Value> {
    let mut s = connect(socket)
        .await
        .map_err(|e| json!({"error": e.to_string()}))?;
    // A refused peer may be closed before its Hello is written (a uid refused
    // in a flood is closed at once): the refusal still waits to be read.
    let written = frame::write_message(&mut s, &Hello::new("mld-probe")).await;
    let reply = tokio::time::timeout(Duration::from_secs(30), frame::read_message(&mut s))
        .await
        .map_err(|_| json!({"error": "no answer to the handshake"}))?;
    if let (Err(e), Ok(None) | Err(_)) = (&written, &reply) {
        return Err(json!({"error": e.to_string()}));
    }
    match reply {
        Ok(Some(HelloReply::Welcome(w))) => Ok((s, w)),
        Ok(Some(HelloReply::Refused { reason })) => Err(json!({ "refused": reason })),
        Ok(Some(other)) => Err(json!({ "error": format!("{other:?}") })),
        Ok(None) => Err(json!({"error": "closed"})),
        Err(e) => Err(json!({ "error": e.to_string() })),
    }
}

fn tag(response: &Response) -> String {
    match serde_json::to_value(response) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(o)) => o.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

async fn ask(s: &mut Stream, id: u64, request: Request) -> Value {
    let name = request.name();
    if let Err(e) = frame::write_message(
        s,
        &ClientFrame {
            id: RequestId(id),
            request,
        },
    )
    .await
    {
        return json!({"request": name, "error": e.to_string()});
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(60), frame::read_message(s)).await {
            Ok(Ok(Some(ServerFrame::Response { id: got, result }))) if got == RequestId(id) => {
                return match result {
                    Ok(r) => json!({"request": name, "ok": tag(&r)}),
                    Err(e) => json!({
                        "request": name,
                        "err": {"kind": format!("{:?}", e.kind), "message": e.message},
                    }),
                };
            }
            Ok(Ok(Some(ServerFrame::Closing { reason }))) => {
                return json!({"request": name, "closed": reason});
            }
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => return json!({"request": name, "closed": ""}),
            Ok(Err(e)) => return json!({"request": name, "error": e.to_string()}),
            Err(_) => return json!({"request": name, "error": "no answer within 60s"}),
        }
    }
}

fn print(v: Value) {
    println!("{v}");
}

/// Raises the soft open-files limit to the hard one, for `hold`.
fn more_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

async fn hold(socket: &str, n: usize, with_hello: bool) {
    more_files();
    let mut streams = Vec::new();
    let mut welcomed = 0;
    let mut refused: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    if with_hello {
        // Concurrently: each refusal may take the daemon a moment.
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let socket = socket.to_string();
            tasks.spawn(async move { hello(&socket).await });
        }
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Ok((s, _)) => {
                    welcomed += 1;
                    streams.push(s);
                }
                Err(v) => match v.get("refused").and_then(Value::as_str) {
                    Some(reason) => *refused.entry(reason.to_string()).or_insert(0) += 1,
                    None => *errors.entry(v.to_string()).or_insert(0) += 1,
                },
            }
        }
    } else {
        for _ in 0..n {
            match connect(socket).await {
                Ok(s) => streams.push(s),
                Err(e) => *errors.entry(e.to_string()).or_insert(0) += 1,
            }
        }
    }
    print(json!({
        "opened": streams.len(),
        "welcomed": welcomed,
        "refused": refused,
        "errors": errors,
    }));
    // Hold until the test closes stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
    })
    .await
    .unwrap();
    drop(streams);
}

/// Sends `request` `n` times as fast as the daemon takes them while reading
/// the answers: how many came back, how many were "permission denied", and
/// the seconds from the first request to the last answer (or the close).
async fn flood(s: Stream, n: u64, request: Request) -> Value {
    let (mut rd, mut wr) = tokio::io::split(s);
    let started = std::time::Instant::now();
    let writer = tokio::spawn(async move {
        for i in 0..n {
            let f = ClientFrame {
                id: RequestId(i),
                request: request.clone(),
            };
            if frame::write_message(&mut wr, &f).await.is_err() {
                return i;
            }
        }
        n
    });
    let (mut answered, mut denied, mut closed) = (0u64, 0u64, None);
    while answered < n {
        match tokio::time::timeout(Duration::from_secs(60), frame::read_message(&mut rd)).await {
            Ok(Ok(Some(ServerFrame::Response { result, .. }))) => {
                answered += 1;
                if matches!(&result, Err(e) if e.kind == ErrorKind::PermissionDenied) {
                    denied += 1;
                }
            }
            Ok(Ok(Some(ServerFrame::Closing { reason }))) => {
                closed = Some(reason);
                break;
            }
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => {
                closed = Some(String::new());
                break;
            }
            Ok(Err(e)) => {
                closed = Some(e.to_string());
                break;
            }
            Err(_) => {
                closed = Some("no answer within 60s".into());
                break;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    writer.abort();
    json!({"answered": answered, "denied": denied, "seconds": seconds, "closed": closed})
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (socket, command) = (&args[1], args[2].as_str());
    match command {
        "ask" => {
            let requests: Vec<Request> =
                serde_json::from_str(&args[3]).expect("a JSON list of requests");
            match hello(socket).await {
                Ok((mut s, w)) => {
                    print(
                        json!({"welcome": {"user": w.user, "uid": w.uid, "roles": w.roles.to_string()}}),
                    );
                    for (i, r) in requests.into_iter().enumerate() {
                        print(ask(&mut s, i as u64 + 1, r).await);
                    }
                }
                Err(v) => print(v),
            }
        }
        "session" => match hello(socket).await {
            Ok((mut s, w)) => {
                print(
                    json!({"welcome": {"user": w.user, "uid": w.uid, "roles": w.roles.to_string()}}),
                );
                // Line by line, so the test can change the daemon between requests.
                let mut id = 1;
                loop {
                    let line = tokio::task::spawn_blocking(|| {
                        let mut l = String::new();
                        std::io::stdin().read_line(&mut l).map(|n| (n, l))
                    })
                    .await
                    .unwrap();
                    let Ok((n, line)) = line else { break };
                    if n == 0 {
                        break;
                    }
                    let request: Request =
                        serde_json::from_str(line.trim()).expect("a JSON request");
                    print(ask(&mut s, id, request).await);
                    id += 1;
                }
            }
            Err(v) => print(v),
        },
        "hold" => {
            let n: usize = args[3].parse().expect("a count");
            hold(socket, n, args.get(4).is_some_and(|a| a == "hello")).await;
        }
        "flood" => {
            let n: u64 = args[3].parse().expect("a count");
            let request: Request = serde_json::from_str(&args[4]).expect("a JSON request");
            match hello(socket).await {
                Ok((s, _)) => print(flood(s, n, request).await),
                Err(v) => print(v),
            }
        }
        "announce" => {
            let n: u32 = args[3].parse().expect("a length");
            match hello(socket).await {
                Ok((mut s, _)) => {
                    use tokio::io::AsyncWriteExt;
                    s.write_all(&n.to_be_bytes()).await.unwrap();
                    let said = tokio::time::timeout(
                        Duration::from_secs(10),
                        frame::read_message::<ServerFrame, _>(&mut s),
                    )
                    .await;
                    print(match said {
                        Ok(Ok(Some(ServerFrame::Closing { reason }))) => {
                            json!({ "closed": reason })
                        }
                        other => json!({ "error": format!("{other:?}") }),
                    });
                }
                Err(v) => print(v),
            }
        }
        other => panic!("unknown command {other}"),
    }
}
