//! HTTP_WORKERS threads. On SQLite each runs its own single-threaded runtime and serves the
//! connections accepted on the first and handed to each in turn; on PostgreSQL they share one
//! runtime.
//!
//! Why not one runtime shared by all the threads: a task woken from outside the runtime (by a
//! hashing thread or SQLite's) wakes one parked worker, and that worker wakes another to look for
//! more work, which finds none and parks again. A sign-in parked the workers about nine times
//! (`strace`), and each park and wake-up is a trip through the kernel (through the hypervisor, on
//! a VM). With a runtime per thread a wake-up goes straight to the one thread that owns the task:
//! sign-in's other CPU went from 0.82-0.88 to 0.62-0.71 ms, `/token`'s at 3,000 req/s from 138 to
//! 127-129 µs, and `/token`'s throughput stayed the same. As in actix-web, a connection stays with
//! the thread it was handed to: one busy HTTP/2 connection is served by one core.
//!
//! PostgreSQL's connections are sockets, and a socket's readiness comes through the runtime that
//! opened it: a query sent from another worker's runtime waits for that one's thread to look. In
//! one run with a runtime per worker, `/token`'s p99 during a sign-in flood was 126 ms (15 ms in
//! the last run with a shared one) and the mixed load at 3,000 req/s 27× its p99 alone (5×).
//! There the workers share one runtime, as before.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::serve::{Listener, ListenerExt};
use fastauth_store::Dialect;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::{mpsc, watch};

use crate::app::App;
use crate::config::Config;

type Connection = (std::net::TcpStream, SocketAddr);

/// The runtime `main` runs everything on: single-threaded when each HTTP worker gets its own
/// (SQLite), else shared by `workers` threads.
pub fn runtime(config: &Config) -> std::io::Result<Runtime> {
    if runtime_per_worker(config) {
        Builder::new_current_thread().enable_all().build()
    } else {
        Builder::new_multi_thread().worker_threads(config.http.workers).enable_all().build()
    }
}

fn runtime_per_worker(config: &Config) -> bool {
    matches!(Dialect::from_url(&config.database.url), Ok(Dialect::Sqlite))
}

/// Serves `app` on `listener` from its HTTP workers (`runtime`) until `shutdown` resolves; then
/// no connection is accepted and every worker finishes its in-flight requests. With a runtime per
/// worker, this thread is the first and `workers - 1` more are started.
pub async fn serve_app(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let workers = app.config.http.workers;
    if !runtime_per_worker(&app.config) || workers <= 1 {
        return app.serve(listener, shutdown).await;
    }
    let local = listener.local_addr().context("reading the listening address")?;
    // One router for all (each costs about 5 MiB, most of it the API page's).
    let router = crate::http::router(app);
    let (stop, stopped) = watch::channel(false);
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move { drop(stopped.wait_for(|s| *s).await) };
    let mut queues = Vec::with_capacity(workers);
    let mut threads = Vec::with_capacity(workers - 1);
    for n in 1..workers {
        let (queue, incoming) = mpsc::unbounded_channel();
        queues.push(queue);
        let runtime = Builder::new_current_thread().enable_all().build().context("starting HTTP")?;
        let (router, shutdown) = (router.clone(), until_stopped(stopped.clone()));
        let run = move || runtime.block_on(serve_router(router, Handed { incoming, local }, shutdown));
        threads.push(std::thread::Builder::new().name(format!("http-{n}")).spawn(run).context("starting HTTP")?);
    }
    let (queue, incoming) = mpsc::unbounded_channel();
    queues.push(queue);
    let accepting = tokio::spawn(hand_out(listener, queues, until_stopped(stopped)));
    let on_shutdown = async move {
        shutdown.await;
        stop.send_replace(true);
    };
    let served = serve_router(router, Handed { incoming, local }, on_shutdown).await;
    accepting.abort(); // when serving failed before the shutdown
    let joined = tokio::task::spawn_blocking(move || {
        threads
            .into_iter()
            .try_for_each(|t| t.join().unwrap_or_else(|_| Err(anyhow::anyhow!("an HTTP worker panicked"))))
    })
    .await?;
    served.and(joined)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub(crate) async fn serve_router<L>(
    router: Router,
    listener: L,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    L: Listener<Io = TcpStream, Addr = SocketAddr>,
{
    // The tap does nothing: through it axum gives any listener's peer address to ConnectInfo.
    axum::serve(listener.tap_io(|_| ()), router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")
}

/// Accepts connections until `stopped` and hands each to the next worker in turn.
async fn hand_out(mut listener: TcpListener, workers: Vec<mpsc::UnboundedSender<Connection>>, stopped: impl Future) {
    let accepting = async {
        let mut next = 0;
        loop {
            // axum's accept logs and retries errors (such as running out of file descriptors).
            let (stream, peer) = Listener::accept(&mut listener).await;
            let mut connection = match stream.into_std() {
                Ok(stream) => (stream, peer),
                Err(e) => {
                    tracing::warn!(error = %e, "could not hand a connection over");
                    continue;
                }
            };
            // A worker that has stopped (its thread panicked) gives the connection back.
            for _ in 0..workers.len() {
                next = (next + 1) % workers.len();
                match workers[next].send(connection) {
                    Ok(()) => break,
                    Err(mpsc::error::SendError(back)) => connection = back,
                }
            }
        }
    };
    tokio::select! {
        () = accepting => {}
        _ = stopped => {}
    }
}

/// The connections handed to one worker.
struct Handed {
    incoming: mpsc::UnboundedReceiver<Connection>,
    local: SocketAddr,
}

impl Listener for Handed {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            // None: the acceptor has stopped, and only the shutdown ends this worker.
            let Some((stream, peer)) = self.incoming.recv().await else { return std::future::pending().await };
            match TcpStream::from_std(stream) {
                Ok(stream) => return (stream, peer),
                Err(e) => tracing::warn!(error = %e, "could not take a connection over"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
