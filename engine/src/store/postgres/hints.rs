//! Wake-up hints between nodes: `LISTEN`/`NOTIFY` on one channel. Polling stays the truth.
//!
//! **Sending.** After a commit that made work due (a job, a timer, a signal delivery, a
//! schedule) the runtime calls [`Hints::send`], which never blocks: it leaves a permit for the
//! sender task, which sends `SELECT pg_notify('flyt_work', '<node id>')` on a pooled
//! connection. Commits that ask while a hint is on its way leave one permit between them, so a
//! burst of commits costs two `NOTIFY`s, not one each; and since the hint goes out after the
//! commit, whoever it wakes sees the work. The hint carries no data: a woken worker reads the due
//! index as it does on every poll.
//!
//! **Listening.** A node whose job worker runs listens on a dedicated connection (not one of the
//! pool's, which are reset and recycled), and on each hint from another node (its own are
//! skipped by the node id) wakes its worker's loops. When that connection is lost (the database
//! restarted, the session was terminated, keepalives found the peer gone) the node reconnects
//! with backoff (100 ms doubling to 5 s) and wakes its worker once connected, since hints may
//! have been missed. Meanwhile, and always, the worker polls every `worker.poll_ms`: a missed
//! hint delays work by at most one poll interval, it never loses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::backend::HintStats;

/// The channel every node listens on.
pub const CHANNEL: &str = "flyt_work";

/// The shortest and longest pause before reconnecting the listening connection.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LAST_PAUSE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Counters {
    listening: AtomicBool,
    sent: AtomicU64,
    received: AtomicU64,
    connects: AtomicU64,
}

/// One node's hints: the sender and (once a worker asks) the listener.
pub(super) struct Hints {
    /// This node's id in the hints it sends (random per process).
    node: Arc<str>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    /// The listening connection's settings (the pool's, with keepalives and its own name).
    config: tokio_postgres::Config,
    connector: MakeRustlsConnect,
    shown: Arc<str>,
    /// Permits for the sender task.
    to_send: Arc<Notify>,
    /// What a hint from another node wakes.
    wakers: Arc<Mutex<Vec<Arc<Notify>>>>,
    counters: Arc<Counters>,
    tasks: Mutex<Tasks>,
}

#[derive(Default)]
struct Tasks {
    sender: Option<JoinHandle<()>>,
    listener: Option<JoinHandle<()>>,
    closed: bool,
}

impl Hints {
    pub(super) fn new(
        handle: tokio::runtime::Handle,
        pool: Pool,
        mut config: tokio_postgres::Config,
        connector: MakeRustlsConnect,
        shown: Arc<str>,
    ) -> Hints {
        // A silently vanished peer (a partition, a frozen host) is noticed within about 25 s.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        let name = format!("{}-hints", config.get_application_name().unwrap_or("flyt"));
        config.application_name(&name);
        Hints {
            node: uuid::Uuid::new_v4().simple().to_string().into(),
            handle,
            pool,
            config,
            connector,
            shown,
            to_send: Arc::new(Notify::new()),
            wakers: Arc::default(),
            counters: Arc::default(),
            tasks: Mutex::default(),
        }
    }

    /// Hints the other nodes that work is due; never blocks.
    pub(super) fn send(&self) {
        {
            let mut tasks = self.tasks.lock();
            if tasks.closed {
                return;
            }
            if tasks.sender.is_none() {
                tasks.sender = Some(self.handle.spawn(send_loop(
                    self.pool.clone(),
                    self.node.clone(),
                    self.to_send.clone(),
                    self.counters.clone(),
                )));
            }
        }
        self.to_send.notify_one();
    }

    /// Wakes `wake` on every other node's hint; starts the listener on the first call.
    pub(super) fn listen(&self, wake: Arc<Notify>) {
        self.wakers.lock().push(wake);
        let mut tasks = self.tasks.lock();
        if tasks.closed || tasks.listener.is_some() {
            return;
        }
        tasks.listener = Some(self.handle.spawn(listen_loop(Listener {
            config: self.config.clone(),
            connector: self.connector.clone(),
            node: self.node.clone(),
            shown: self.shown.clone(),
            wakers: self.wakers.clone(),
            counters: self.counters.clone(),
        })));
    }

    pub(super) fn stats(&self) -> HintStats {
        let c = &self.counters;
        HintStats {
            listening: c.listening.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            connects: c.connects.load(Ordering::Relaxed),
        }
    }

    /// Stops sending and listening (the listening session ends with its task).
    pub(super) fn close(&self) {
        let mut tasks = self.tasks.lock();
        tasks.closed = true;
        for task in [tasks.sender.take(), tasks.listener.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        self.counters.listening.store(false, Ordering::Relaxed);
    }
}

async fn send_loop(pool: Pool, node: Arc<str>, to_send: Arc<Notify>, counters: Arc<Counters>) {
    loop {
        to_send.notified().await;
        // A database that cannot be reached now loses this hint: the commit that asked for it
        // happened, and the other nodes' polls find its work.
        let Ok(client) = pool.get().await else {
            continue;
        };
        let sent = match client.prepare_cached("SELECT pg_notify($1, $2)").await {
            Ok(statement) => client.execute(&statement, &[&CHANNEL, &&*node]).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(_) => {
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "a work hint was not sent"),
        }
    }
}

struct Listener {
    config: tokio_postgres::Config,
    connector: MakeRustlsConnect,
    node: Arc<str>,
    shown: Arc<str>,
    wakers: Arc<Mutex<Vec<Arc<Notify>>>>,
    counters: Arc<Counters>,
}

impl Listener {
    fn wake(&self) {
        for waker in self.wakers.lock().iter() {
            waker.notify_waiters();
        }
    }

    /// One session: connects, `LISTEN`s, wakes on hints until the connection ends. `Ok` when
    /// it was listening (so the next connect starts from the shortest pause).
    async fn session(&self) -> Result<(), String> {
        let (client, mut connection) = self
            .config
            .connect(self.connector.clone())
            .await
            .map_err(|e| e.to_string())?;
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        // The connection is driven by polling its messages, so LISTEN needs both at once.
        {
            let sql = format!("LISTEN {CHANNEL}");
            let listen = client.batch_execute(&sql);
            tokio::pin!(listen);
            loop {
                tokio::select! {
                    done = &mut listen => {
                        done.map_err(|e| e.to_string())?;
                        break;
                    }
                    message = messages.next() => match message {
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(e.to_string()),
                        None => return Err("the connection closed".into()),
                    },
                }
            }
        }
        // Hints sent while no one listened are lost: look once now. (Before saying that it
        // listens, so that whoever waits for that is not woken by this.)
        self.wake();
        let connects = self.counters.connects.fetch_add(1, Ordering::Relaxed) + 1;
        self.counters.listening.store(true, Ordering::Relaxed);
        if connects == 1 {
            tracing::info!(database = %self.shown, channel = CHANNEL, "listening for other nodes' work hints");
        } else {
            tracing::info!(database = %self.shown, "listening for work hints again");
        }
        let ended = loop {
            match messages.next().await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if n.payload() != &*self.node {
                        self.counters.received.fetch_add(1, Ordering::Relaxed);
                        self.wake();
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break e.to_string(),
                None => break "the connection closed".to_string(),
            }
        };
        self.counters.listening.store(false, Ordering::Relaxed);
        drop(client);
        tracing::warn!(
            database = %self.shown,
            error = %ended,
            "lost the work-hint connection; the worker polls until it is back"
        );
        Ok(())
    }
}

async fn listen_loop(listener: Listener) {
    let mut pause = FIRST_PAUSE;
    let mut failures = 0u32;
    loop {
        match listener.session().await {
            Ok(()) => {
                pause = FIRST_PAUSE;
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                // Said once per outage; the rest at debug.
                if failures == 1 {
                    tracing::warn!(database = %listener.shown, error = %e, "cannot listen for work hints; polling meanwhile, retrying");
                } else {
                    tracing::debug!(error = %e, "cannot listen for work hints yet");
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LAST_PAUSE);
    }
}
