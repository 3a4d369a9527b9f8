//! A `cohai-server` process under test.

#![allow(dead_code)] // each test file uses a different part

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cohai-server");

/// The admin key the test servers accept.
pub const ADMIN_KEY: &str = "process-test-key";

/// The workspace root, where the test servers start unless told otherwise.
pub fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An HTTP client that returns error statuses as responses, with a timeout.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// A running server process, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    database_url: String,
    env: Vec<(String, String)>,
    port: u16,
    cwd: PathBuf,
}

impl Server {
    /// Starts the server on a free port and waits until it listens.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::start_in(workspace_root(), database_url, env)
    }

    /// Like [`Server::start`], with `cwd` as the working directory.
    pub fn start_in(cwd: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::spawn(cwd, database_url, env, free_port())
    }

    /// Like [`Server::start`], without waiting for it to listen (see [`Server::wait_ready`]),
    /// so that several servers can start at the same moment.
    pub fn launch(database_url: &str, env: &[(&str, &str)]) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::spawn_unwaited(workspace_root(), database_url, env, free_port())
    }

    fn spawn(cwd: &Path, database_url: &str, env: Vec<(String, String)>, port: u16) -> Self {
        let server = Self::spawn_unwaited(cwd, database_url, env, port);
        server.wait_until_up();
        server
    }

    fn spawn_unwaited(
        cwd: &Path,
        database_url: &str,
        env: Vec<(String, String)>,
        port: u16,
    ) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(cwd)
            .env("DATABASE_URL", database_url)
            .env("COHAI_BIND", format!("127.0.0.1:{port}"))
            .env("COHAI_ADMIN_API_KEY", ADMIN_KEY)
            .env("COHAI_WORKERS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn cohai-server");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            database_url: database_url.to_owned(),
            env,
            port,
            cwd: cwd.to_owned(),
        }
    }

    /// Starts a new process with the same database, settings and port.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let fresh = Self::spawn(&self.cwd, &self.database_url, self.env.clone(), self.port);
        *self = fresh;
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(self.base.trim_start_matches("http://")).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("cohai-server did not start listening on {}", self.base);
    }

    /// Waits until `/ready` answers `200`; panics if the process exits first or `within` passes.
    pub fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!(
                    "cohai-server on {} exited before it was ready: {status}",
                    self.base
                );
            }
            let ready = agent()
                .get(&format!("{}/ready", self.base))
                .call()
                .is_ok_and(|res| res.status().as_u16() == 200);
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "cohai-server on {} was not ready within {within:?}",
                self.base
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `GET path` → status and body text.
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let mut res = agent()
            .get(&format!("{}{path}", self.base))
            .call()
            .expect("request");
        let status = res.status().as_u16();
        (status, res.body_mut().read_to_string().unwrap_or_default())
    }

    /// `GET path` → status and JSON body.
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let mut res = agent()
            .get(&format!("{}{path}", self.base))
            .call()
            .expect("request");
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `POST path` with a JSON body → status and JSON body.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let mut res = agent()
            .post(&format!("{}{path}", self.base))
            .send_json(body)
            .expect("request");
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `GET path` with the admin key.
    pub fn admin_get(&self, path: &str) -> (u16, serde_json::Value) {
        let mut res = agent()
            .get(&format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {ADMIN_KEY}"))
            .call()
            .expect("request");
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `POST path` with a JSON body and the admin key.
    pub fn admin_post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let mut res = agent()
            .post(&format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {ADMIN_KEY}"))
            .send_json(body)
            .expect("request");
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `PATCH path` with a JSON body and the admin key (no `If-Match`: the change applies to
    /// the row as it is).
    pub fn admin_patch(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let mut res = agent()
            .patch(&format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {ADMIN_KEY}"))
            .send_json(body)
            .expect("request");
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Sends a signal (`TERM`, `KILL`, …) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "cohai-server did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `GET path` answers `status`.
    pub fn wait_for_status(&self, path: &str, status: u16, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.get(path).0 == status {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SQLite URL inside `dir`.
pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("data/cohai.db").display())
}

/// A webhook receiver on loopback: answers every request `200` after 50 ms (one connection
/// per request) and keeps each body it was sent.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    /// Starts listening.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = std::sync::Arc::clone(&kept);
                std::thread::spawn(move || {
                    if let Some(body) = read_request_body(stream)
                        && let Ok(json) = serde_json::from_slice(&body)
                    {
                        kept.lock().expect("bodies").push(json);
                    }
                });
            }
        });
        Self { url, bodies }
    }

    /// The bodies received so far.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().expect("bodies").clone()
    }
}

/// Reads one HTTP/1.1 request, answers `200` and closes; returns the body.
fn read_request_body(mut stream: TcpStream) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (at + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    // A moment's work, so deliveries are in flight when a test kills the server.
    std::thread::sleep(Duration::from_millis(50));
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .ok()?;
    Some(buf[head_end..head_end + length].to_vec())
}
