//! The loopback server every emulator runs on: binding an ephemeral port on
//! `127.0.0.1`, serving an axum app until dropped, and logging each request
//! so tests can count round trips.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A running loopback server. Dropping it shuts the server down.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// Serves `app` on `127.0.0.1:port` (0 picks a free port). Every request
    /// is recorded in `log`.
    pub async fn start(app: axum::Router, port: u16, log: RequestLog) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let app = app.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let log = log.clone();
                async move {
                    let method = req.method().to_string();
                    let path = req.uri().path().to_string();
                    let response = next.run(req).await;
                    log.record(method, path, response.status().as_u16());
                    response
                }
            },
        ));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Server {
            addr,
            shutdown: Some(tx),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The status the emulator answered with.
    pub status: u16,
}

/// Every request an emulator served, in order. Clones share the log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<LoggedRequest>>>);

impl RequestLog {
    fn record(&self, method: String, path: String, status: u16) {
        crate::lock(&self.0).push(LoggedRequest {
            method,
            path,
            status,
        });
    }

    /// A copy of the log so far.
    pub fn entries(&self) -> Vec<LoggedRequest> {
        crate::lock(&self.0).clone()
    }

    /// How many requests went to `path`.
    pub fn count_path(&self, path: &str) -> usize {
        crate::lock(&self.0)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// How many requests were served in total.
    pub fn len(&self) -> usize {
        crate::lock(&self.0).len()
    }

    /// Whether no request was served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything logged so far.
    pub fn clear(&self) {
        crate::lock(&self.0).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn server_logs_requests_and_stops_on_drop() {
        let log = RequestLog::default();
        let app = axum::Router::new().route("/x", axum::routing::get(|| async { "hi" }));
        let server = Server::start(app, 0, log.clone()).await.unwrap();
        let body = reqwest::get(format!("{}/x", server.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "hi");
        assert_eq!(
            log.entries(),
            [LoggedRequest {
                method: "GET".into(),
                path: "/x".into(),
                status: 200
            }]
        );
        let addr = server.addr();
        drop(server);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
