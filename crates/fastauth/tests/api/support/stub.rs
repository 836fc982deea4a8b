//! A loopback HTTP stub for third parties that cannot run here (Twilio, Kaleyra, webhooks): it
//! records each request and answers through a closure that checks it as the real API would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Recorded {
    /// The form-encoded body as a map.
    pub fn form(&self) -> BTreeMap<String, String> {
        url_decode_form(&self.body)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

fn url_decode_form(body: &str) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
                .then(|| u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16).ok())
                .flatten();
            if let Some(b) = escaped {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    body.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

type Responder = dyn Fn(&Recorded) -> (u16, String) + Send + Sync;

pub struct Stub {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    app: axum::Router,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Stub {
    pub async fn start(respond: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Responder> = Arc::new(respond);
        let (seen, responder) = (requests.clone(), respond.clone());
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (seen, responder) = (seen.clone(), responder.clone());
            async move {
                let recorded = Recorded {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let (status, reply) = responder(&recorded);
                seen.lock().expect("lock").push(recorded);
                (StatusCode::from_u16(status).expect("status"), [("content-type", "application/json")], reply)
                    .into_response()
            }
        };
        let app = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let mut stub = Self { url, requests, app, stop: None };
        stub.serve(listener);
        stub
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = self.app.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        self.stop = Some(stop);
    }

    /// Takes the server down: connections to its port are refused until `restart`.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let addr = self.url.trim_start_matches("http://").to_owned();
        while tokio::net::TcpStream::connect(&addr).await.is_ok() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Serves again on the same port.
    pub async fn restart(&mut self) {
        let addr = self.url.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind(&addr).await.expect("rebind stub");
        self.serve(listener);
    }

    /// The requests, once there are at least `count` (waiting up to 10 s).
    pub async fn wait_for(&self, count: usize) -> Vec<Recorded> {
        for _ in 0..200 {
            let seen = self.requests();
            if seen.len() >= count {
                return seen;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("fewer than {count} requests reached the stub within 10 s");
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}
