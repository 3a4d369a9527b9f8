//! Loopback stand-ins for what the notifications dispatcher talks to (API.md §7): a fake
//! Telegram Bot API and a webhook receiver. Each is a small actix-web server on
//! `127.0.0.1` running on a thread of its own, that records every request (method, path,
//! headers, body) before it answers, and answers what the test scripted: a queue of
//! one-off answers, then a standing one. "Down" is a port nobody listens on
//! ([`closed_port`]), and [`FakeServer::start_on`] brings the receiver up there later.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

use crate::TestApp;

/// One request as the fake server read it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path with its query, e.g. `/bot123:abc/sendMessage`.
    pub path: String,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// An answer the fake server gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// A JSON body, or empty.
    pub body: String,
    /// More headers, e.g. `Location` for a redirect.
    pub headers: Vec<(String, String)>,
    /// How long the server waits before answering (a slow receiver).
    pub delay: std::time::Duration,
}

impl Answer {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: String::new(),
            headers: Vec::new(),
            delay: std::time::Duration::ZERO,
        }
    }

    /// This answer, given only after `delay`.
    pub fn after(self, delay: std::time::Duration) -> Self {
        Self { delay, ..self }
    }

    /// A redirect (`status` 3xx) to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self {
            headers: vec![("Location".to_owned(), location.to_owned())],
            ..Self::status(status)
        }
    }

    /// `status` with a JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            body: body.to_string(),
            ..Self::status(status)
        }
    }

    /// Telegram's success: `200 {"ok":true,"result":{…}}`.
    pub fn telegram_ok() -> Self {
        Self::json(
            200,
            serde_json::json!({"ok": true, "result": {"message_id": 1}}),
        )
    }

    /// A Telegram error with its `error_code` and `description`.
    pub fn telegram_error(status: u16, description: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"ok": false, "error_code": status, "description": description}),
        )
    }

    /// Telegram's flood control: `429` with `parameters.retry_after`.
    pub fn telegram_retry_after(seconds: u64) -> Self {
        Self::json(
            429,
            serde_json::json!({
                "ok": false,
                "error_code": 429,
                "description": format!("Too Many Requests: retry after {seconds}"),
                "parameters": {"retry_after": seconds},
            }),
        )
    }
}

/// What the server thread and the test share.
#[derive(Debug)]
struct Shared {
    requests: Mutex<Vec<Received>>,
    next: Mutex<VecDeque<Answer>>,
    standing: Mutex<Answer>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fake HTTP server on loopback; stopped when dropped.
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// A server on a free port answering `standing` to everything.
    pub fn start(standing: Answer) -> Self {
        Self::listen(
            TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"),
            standing,
        )
    }

    /// A server on `port` (one [`closed_port`] gave: the receiver comes up).
    pub fn start_on(port: u16, standing: Answer) -> Self {
        Self::listen(
            TcpListener::bind(("127.0.0.1", port)).expect("bind the given port"),
            standing,
        )
    }

    /// A fake Telegram Bot API answering `ok` to everything.
    pub fn telegram() -> Self {
        Self::start(Answer::telegram_ok())
    }

    /// A webhook receiver answering `200` to everything.
    pub fn receiver() -> Self {
        Self::start(Answer::status(200))
    }

    fn listen(listener: TcpListener, standing: Answer) -> Self {
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            next: Mutex::new(VecDeque::new()),
            standing: Mutex::new(standing),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let state = web::Data::from(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name(format!("fake-server-{}", addr.port()))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(state.clone())
                            .default_service(web::to(record))
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(0)
                    .listen(listener)
                    .expect("listen")
                    .run();
                    let _ = tx.send(server.handle());
                    let _ = server.await;
                });
            })
            .expect("start the fake server's thread");
        let handle = rx.recv().expect("the fake server started");
        Self {
            addr,
            shared,
            handle,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Answers `answer` to the next request (after those queued before), then goes on.
    pub fn then(&self, answer: Answer) -> &Self {
        lock(&self.shared.next).push_back(answer);
        self
    }

    /// Answers `answer` from now on (once the queued answers are used up).
    pub fn always(&self, answer: Answer) {
        *lock(&self.shared.standing) = answer;
    }

    /// Everything received so far, oldest first.
    pub fn requests(&self) -> Vec<Received> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests it received.
    pub fn count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// The JSON bodies received so far.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.requests().iter().map(Received::json).collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        // `stop` sends its command at once; the future only waits for the result.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Records the request, then gives the next scripted answer (or the standing one).
async fn record(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let received = Received {
        method: req.method().as_str().to_owned(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned()),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    lock(&shared.requests).push(received);
    let answer = lock(&shared.next)
        .pop_front()
        .unwrap_or_else(|| lock(&shared.standing).clone());
    if !answer.delay.is_zero() {
        actix_web::rt::time::sleep(answer.delay).await;
    }
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut reply = HttpResponse::build(status);
    for (name, value) in &answer.headers {
        reply.insert_header((name.as_str(), value.as_str()));
    }
    if answer.body.is_empty() {
        reply.finish()
    } else {
        reply.content_type("application/json").body(answer.body)
    }
}

/// A loopback port nobody listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

impl TestApp {
    /// The app's metrics (the ones `/metrics` renders), to hand to a dispatcher.
    pub fn metrics(&self) -> cohai_web::Metrics {
        self.state.metrics.clone()
    }
}
