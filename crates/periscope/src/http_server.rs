//! The HTTP server of `serve`: binds the configured address and serves the routers the parts
//! provide (the push receivers today), stopping gracefully with the daemon.

use std::future::Future;

use axum::Router;
use tokio::task::JoinHandle;

use crate::config::HttpConfig;

/// A running server.
pub struct HttpServer {
    /// Finishes once the server has stopped after `shutdown`.
    pub task: JoinHandle<()>,
}

/// Binds `config.listen` and serves `router` until `shutdown` resolves; requests in flight are
/// finished first, so every acknowledged write stays acknowledged.
pub async fn start(
    config: &HttpConfig,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<HttpServer, String> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (http.listen): {e}", config.listen))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the address bound for {}: {e}", config.listen))?;
    tracing::info!(address = %local_addr, "HTTP server listening");
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "HTTP server stopped with an error");
        }
    });
    Ok(HttpServer { task })
}
