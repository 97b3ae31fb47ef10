//! A small protocol-level client for tests: connects to a daemon's socket,
//! does the `Hello`/`Welcome` handshake, sends [`ClientFrame`]s and reads
//! [`ServerFrame`]s. Updates that arrive while a response is awaited are kept
//! in order, so a test can both ask and watch a subscription.
//!
//! Also [`InProcessDaemon`]: a real daemon (`mld::run`) on a temp socket in
//! this process, for tests that need no separate binary.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use mld_shared::frame;
use mld_shared::ids::{DispatchId, JobName, RequestId};
use mld_shared::protocol::*;
use tokio_util::sync::CancellationToken;

/// How long any single answer may take before the test fails.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    stream: Stream,
    next_id: u64,
    pub welcome: Welcome,
    /// Updates received while waiting for a response, oldest first.
    pending: VecDeque<Update>,
}

impl Client {
    /// Connects and completes the handshake.
    pub async fn connect(socket: &Path) -> anyhow::Result<Client> {
        let name = socket.to_fs_name::<GenericFilePath>()?;
        let mut stream = Stream::connect(name).await?;
        frame::write_message(&mut stream, &Hello::new("mld-tests")).await?;
        let reply: Option<HelloReply> =
            tokio::time::timeout(ANSWER_TIMEOUT, frame::read_message(&mut stream)).await??;
        match reply {
            Some(HelloReply::Welcome(welcome)) => Ok(Client {
                stream,
                next_id: 1,
                welcome,
                pending: VecDeque::new(),
            }),
            other => anyhow::bail!("expected a welcome, got {other:?}"),
        }
    }

    /// Sends a request and waits for its response; updates in between are queued.
    pub async fn request(&mut self, request: Request) -> Result<Response, WireError> {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        frame::write_message(&mut self.stream, &ClientFrame { id, request })
            .await
            .expect("send a request");
        loop {
            match self.frame().await {
                ServerFrame::Response { id: got, result } => {
                    assert_eq!(got, id, "responses come in request order");
                    return result;
                }
                ServerFrame::Update(u) => self.pending.push_back(u),
                ServerFrame::Closing { reason } => panic!("the daemon closed: {reason}"),
            }
        }
    }

    /// Like [`Client::request`], but a daemon that dies, closes the
    /// connection or answers late is an `Err`, not a panic: for tests that
    /// kill the daemon under a client.
    pub async fn try_request(
        &mut self,
        request: Request,
        limit: Duration,
    ) -> anyhow::Result<Result<Response, WireError>> {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        frame::write_message(&mut self.stream, &ClientFrame { id, request }).await?;
        loop {
            let frame: Option<ServerFrame> =
                tokio::time::timeout(limit, frame::read_message(&mut self.stream)).await??;
            match frame {
                Some(ServerFrame::Response { id: got, result }) if got == id => return Ok(result),
                Some(ServerFrame::Response { id: got, .. }) => {
                    anyhow::bail!("response to {got:?} while waiting for {id:?}")
                }
                Some(ServerFrame::Update(u)) => self.pending.push_back(u),
                Some(ServerFrame::Closing { reason }) => {
                    anyhow::bail!("the daemon closed: {reason}")
                }
                None => anyhow::bail!("the connection closed"),
            }
        }
    }

    async fn frame(&mut self) -> ServerFrame {
        tokio::time::timeout(ANSWER_TIMEOUT, frame::read_message(&mut self.stream))
            .await
            .expect("the daemon answers in time")
            .expect("a well-formed frame")
            .expect("the connection stays open")
    }

    pub async fn subscribe(&mut self) -> Box<Snapshot> {
        match self.request(Request::Subscribe).await {
            Ok(Response::Subscribed(s)) => s,
            other => panic!("subscribe: {other:?}"),
        }
    }

    /// The next update (queued first), or `None` after `limit`.
    pub async fn next_update(&mut self, limit: Duration) -> Option<Update> {
        if let Some(u) = self.pending.pop_front() {
            return Some(u);
        }
        match tokio::time::timeout(limit, frame::read_message(&mut self.stream)).await {
            Err(_) => None,
            Ok(r) => match r.expect("a well-formed frame").expect("open") {
                ServerFrame::Update(u) => Some(u),
                other => panic!("unexpected frame while watching: {other:?}"),
            },
        }
    }

    /// Admin: run a job now; the id of the dispatch it started.
    pub async fn run_job(&mut self, job: &str) -> DispatchId {
        match self
            .request(Request::RunJob {
                job: JobName(job.to_string()),
            })
            .await
        {
            Ok(Response::Run(RunOutcome::Started(id))) => id,
            other => panic!("run {job}: {other:?}"),
        }
    }

    pub async fn dispatch(&mut self, id: DispatchId) -> DispatchDetail {
        match self.request(Request::Dispatch { id }).await {
            Ok(Response::Dispatch(d)) => *d,
            other => panic!("dispatch {id}: {other:?}"),
        }
    }

    /// Polls the dispatch until it has finished (any final status).
    pub async fn wait_finished(&mut self, id: DispatchId, limit: Duration) -> DispatchDetail {
        let deadline = Instant::now() + limit;
        loop {
            let d = self.dispatch(id).await;
            if d.summary.status.is_finished() {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "dispatch {id} did not finish within {limit:?}: {:?}",
                d.summary
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every stored prediction of a dispatch, page by page.
    pub async fn all_predictions(&mut self, id: DispatchId) -> Vec<PredictionInfo> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = match self
                .request(Request::DispatchPredictions {
                    id,
                    after_key: after.clone(),
                    filter: None,
                    limit: 1000,
                })
                .await
            {
                Ok(Response::Predictions(p)) => p,
                other => panic!("predictions of {id}: {other:?}"),
            };
            out.extend(page.rows);
            match page.next_after {
                Some(k) => after = Some(k),
                None => return out,
            }
        }
    }
}

/// A real daemon running inside the test process on the configuration file
/// `config` (its socket and state as that file says).
pub struct InProcessDaemon {
    pub socket: PathBuf,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), mld::DaemonError>>,
}

impl InProcessDaemon {
    /// Loads `config`, binds its socket and runs the daemon until ready.
    pub async fn start(config: &Path) -> InProcessDaemon {
        let config = mld_shared::config::load(config)
            .unwrap_or_else(|e| panic!("test configuration is invalid: {e}"));
        let socket = config.daemon.socket.clone();
        let listener = mld::server::bind(&config.daemon).expect("bind the socket");
        let shutdown = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(mld::run(
            config,
            listener,
            shutdown.clone(),
            move |_: &mld::Handle| {
                let _ = tx.send(());
            },
        ));
        if rx.await.is_err() {
            let result = task.await;
            panic!("the daemon did not start: {result:?}");
        }
        InProcessDaemon {
            socket,
            shutdown,
            task,
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.socket).await.expect("connect")
    }

    /// Graceful shutdown; fails the test if the daemon reports an error.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("daemon task")
            .expect("daemon stops cleanly");
    }
}
