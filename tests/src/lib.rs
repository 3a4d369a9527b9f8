//! Harness for the end-to-end tests: the real application (`cohai_web::app`, the real
//! services and the Diesel repositories) over a fresh SQLite file or PostgreSQL database.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use cohai_domain::{
    ClassSession, Location, MembershipPlan, NewClassSession, NewLocation, NewTrainer, ProgramType,
    Trainer,
};
use cohai_persistence::Repositories;
pub use cohai_persistence::testing::builders::{self, at};
pub use cohai_persistence::testing::{Backend, TestDatabase, TestLeads};
use cohai_web::{AppState, WebSettings};

pub mod fakes;
pub mod postman;

/// The admin key every test app accepts (named `admin`).
pub const ADMIN_KEY: &str = "test-admin-key";

/// The application over a throw-away database.
pub struct TestApp {
    /// The database (dropped with the app).
    pub db: TestDatabase,
    /// The repositories, to arrange data directly.
    pub repos: Repositories,
    state: web::Data<AppState>,
}

impl TestApp {
    /// An app with an admin key and no rate limit.
    pub fn new(backend: Backend) -> Self {
        Self::with(backend, |_| {})
    }

    /// An app whose web settings `adjust` changes.
    pub fn with(backend: Backend, adjust: impl FnOnce(&mut WebSettings)) -> Self {
        Self::with_list_cache(backend, std::time::Duration::ZERO, adjust)
    }

    /// An app whose lead service reuses admin list pages for `ttl`.
    pub fn with_list_cache(
        backend: Backend,
        ttl: std::time::Duration,
        adjust: impl FnOnce(&mut WebSettings),
    ) -> Self {
        let db = TestDatabase::new(backend);
        let repos = db.db.repositories();
        let mut settings = WebSettings {
            admin_keys: cohai_web::AdminKeys::new(vec![
                cohai_web::AdminKey::from_plain("admin", ADMIN_KEY).expect("valid test key"),
            ])
            .expect("one key"),
            lead_rate_per_minute: 0,
            public_cache_ttl: std::time::Duration::ZERO,
            ..cohai_server::compose::web_settings(&cohai_server::Settings::default())
                .expect("the default settings are valid")
        };
        adjust(&mut settings);
        let state =
            cohai_server::compose::app_state(&repos, settings, ttl).expect("compose the app");
        Self { db, repos, state }
    }

    /// The initialised actix service, ready for [`call`].
    pub async fn service(
        &self,
    ) -> impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    > {
        test::init_service(cohai_web::app(self.state.clone())).await
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: serde_json::Value,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the contract's error shape and code, and that `request_id` matches the header.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.json);
        assert_eq!(
            self.json["error"]["code"], code,
            "code; body: {}",
            self.json
        );
        assert!(
            self.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "message; body: {}",
            self.json
        );
        assert_eq!(
            self.json["error"]["request_id"].as_str(),
            self.header("x-request-id"),
            "request id; body: {}",
            self.json
        );
    }
}

/// The app under test as the helpers take it (what [`TestApp::service`] returns): one name for
/// the bound every request helper needs.
pub trait TestService<B>:
    Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

impl<S, B> TestService<B> for S where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

/// Sends `req` to `app` and reads the whole response.
pub async fn call<S, B>(app: &S, req: TestRequest) -> Reply
where
    S: TestService<B>,
    B: MessageBody,
{
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await.to_vec();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    Reply {
        status,
        headers,
        json,
        body,
    }
}

/// `GET uri`.
pub async fn get<S, B>(app: &S, uri: &str) -> Reply
where
    S: TestService<B>,
    B: MessageBody,
{
    call(app, TestRequest::get().uri(uri)).await
}

/// An admin request with the test key.
pub fn admin(req: TestRequest) -> TestRequest {
    req.insert_header(("authorization", format!("Bearer {ADMIN_KEY}")))
}

/// A small catalog that tests build on.
pub struct Catalog {
    /// Two active locations (Moscow, then Berlin) and one inactive.
    pub locations: Vec<Location>,
    /// Two program types.
    pub program_types: Vec<ProgramType>,
    /// Two trainers.
    pub trainers: Vec<Trainer>,
    /// Plans of the first location.
    pub plans: Vec<MembershipPlan>,
}

impl TestApp {
    /// Creates a small catalog (its trainers without bio and photo, so their nulls show).
    pub fn catalog(&self) -> Catalog {
        let r = &self.repos;
        let location = |new: NewLocation| r.locations.create(&new).expect("location");
        let program_type = |name: &str| {
            r.program_types
                .create(&builders::program_type(name))
                .expect("program")
        };
        let trainer = |full_name: &str| {
            r.trainers
                .create(&NewTrainer {
                    bio: None,
                    photo_url: None,
                    ..builders::trainer(full_name)
                })
                .expect("trainer")
        };
        let moscow = location(builders::location("Центр"));
        let berlin = location(builders::location_in("Berlin Mitte", "Europe/Berlin"));
        let closed = location(NewLocation {
            is_active: false,
            ..builders::location("Закрыта")
        });
        let (stretch, yoga) = (program_type("Стретчинг"), program_type("Йога"));
        let (anna, boris) = (trainer("Анна Иванова"), trainer("Борис Петров"));
        let plan = |name: &str, price_minor| {
            r.membership_plans
                .create(&builders::plan(moscow.id, name, price_minor))
                .expect("plan")
        };
        let (cheap, dear) = (plan("Разовое", 90_000), plan("Безлимит", 900_000));
        Catalog {
            locations: vec![moscow, berlin, closed],
            program_types: vec![stretch, yoga],
            trainers: vec![anna, boris],
            plans: vec![cheap, dear],
        }
    }

    /// Creates one session.
    pub fn session(&self, new: NewClassSession) -> ClassSession {
        self.repos.class_sessions.create(&new).expect("session")
    }
}

/// Declares `sqlite` and `postgres` modules running each async test function (`fn(Backend)`)
/// on that backend under the actix runtime.
#[macro_export]
macro_rules! e2e_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[actix_web::test] async fn $name() { super::$name($crate::Backend::Sqlite).await })+
        }
        mod postgres {
            $(#[actix_web::test] async fn $name() { super::$name($crate::Backend::Postgres).await })+
        }
    };
}
