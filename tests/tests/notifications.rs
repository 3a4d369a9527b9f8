//! Notifications and webhooks (API.md §7) end to end, on both backends: changes made through
//! the HTTP API are delivered by a real `Dispatcher` (built from the settings by
//! `cohai_server::notifications::dispatcher`, over the app's database and metrics) to a fake
//! Telegram Bot API and to webhook receivers on loopback. The dispatcher's clock is a
//! `ManualClock`: retries and pacing are tested by moving it, never by sleeping.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::test::TestRequest;
use chrono::{TimeDelta, Utc};
use cohai_e2e::fakes::{Answer, FakeServer, Received, closed_port};
use cohai_e2e::{Backend, Reply, TestApp, admin, at, builders, call, e2e_tests};
use cohai_notify::dispatch::{Dispatcher, LoopSettings, ManualClock, SystemClock};
use cohai_server::Settings;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const TOKEN: &str = "123456:TEST-bot_token";
const DEFAULT_CHAT: &str = "-100500";
const STUDIO_CHAT: &str = "-1001";
const WEBHOOKS: &str = "/api/v1/admin/webhooks";
const LEADS: &str = "/api/v1/admin/leads";

/// The app, accepting loopback `http` webhook URLs.
fn app(backend: Backend) -> TestApp {
    TestApp::with(backend, |s| s.webhooks_allow_private_targets = true)
}

/// Settings with webhooks to loopback allowed (or not) and Telegram off.
fn webhook_settings(allow_private_targets: bool) -> Settings {
    let mut settings = Settings::default();
    settings.webhooks.allow_private_targets = allow_private_targets;
    settings
}

/// Settings with Telegram at `telegram`: the first location's chat is [`STUDIO_CHAT`], the
/// default [`DEFAULT_CHAT`].
fn telegram_settings(telegram: &FakeServer, studio: i64, include_contact: bool) -> Settings {
    let mut settings = webhook_settings(true);
    settings.telegram.bot_token = TOKEN.to_owned();
    settings.telegram.chat_id = DEFAULT_CHAT.to_owned();
    settings.telegram.location_chats = [(studio, STUDIO_CHAT.to_owned())].into();
    settings.telegram.api_base = telegram.url("");
    settings.telegram.include_contact = include_contact;
    settings
}

/// A dispatcher over the app's database and metrics, on a clock of its own.
struct Notifier {
    dispatcher: Dispatcher,
    clock: Arc<ManualClock>,
}

impl Notifier {
    fn new(t: &TestApp, settings: &Settings) -> Self {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let dispatcher = cohai_server::notifications::dispatcher(
            settings,
            t.repos.outbox.clone(),
            t.metrics(),
            Arc::clone(&clock) as _,
        )
        .expect("a dispatcher from the settings");
        Self { dispatcher, clock }
    }

    /// Runs cycles until one neither routes nor attempts anything; the attempts made.
    async fn drain(&self) -> usize {
        let mut attempted = 0;
        for _ in 0..100 {
            let cycle = self
                .dispatcher
                .run_once()
                .await
                .expect("a dispatcher cycle");
            attempted += cycle.attempted;
            if cycle.routed == 0 && cycle.attempted == 0 {
                return attempted;
            }
        }
        panic!("the dispatcher kept finding work");
    }

    fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    /// Moves the clock to at least the real time, plus a second: the app stamps what it
    /// writes (a redelivery's "due now") with the real clock.
    fn catch_up(&self) {
        let behind = Utc::now() - cohai_notify::dispatch::Clock::now(&*self.clock);
        self.advance(behind.max(TimeDelta::zero()) + TimeDelta::seconds(1));
    }

    /// Drains, then moves a second on (Telegram's pacing) and drains again, until a step
    /// attempts nothing.
    async fn settle(&self) -> usize {
        let mut attempted = self.drain().await;
        loop {
            self.advance(TimeDelta::seconds(1));
            let more = self.drain().await;
            if more == 0 {
                return attempted;
            }
            attempted += more;
        }
    }

    fn now_unix(&self) -> i64 {
        cohai_notify::dispatch::Clock::now(&*self.clock).timestamp()
    }
}

async fn send<S, B>(app: &S, req: TestRequest) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    call(app, admin(req)).await
}

/// Sends the public form; asserts 201 (new) or 200 (joined an open lead); the lead's id.
async fn submit<S, B>(app: &S, form: &Value) -> i64
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(app, TestRequest::post().uri("/api/v1/leads").set_json(form)).await;
    assert!(
        r.status == 201 || r.status == 200,
        "{}: {}",
        r.status,
        r.json
    );
    r.json["id"].as_i64().expect("id")
}

/// Sends the public form for a new person; asserts 201.
async fn new_lead<S, B>(app: &S, form: &Value) -> i64
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(app, TestRequest::post().uri("/api/v1/leads").set_json(form)).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().expect("id")
}

fn form(name: &str, phone: &str) -> Value {
    json!({"name": name, "phone": phone, "consent": true})
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

/// `PATCH /api/v1/admin/leads/{id}`; asserts 200.
async fn patch_lead<S, B>(app: &S, id: i64, body: &Value)
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = send(
        app,
        TestRequest::patch()
            .uri(&format!("{LEADS}/{id}"))
            .set_json(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
}

async fn admin_get<S, B>(app: &S, uri: &str) -> Value
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = send(app, TestRequest::get().uri(uri)).await;
    assert_eq!(r.status, 200, "{uri}: {}", r.json);
    r.json
}

/// A registered webhook: its id and the secret its creation answered.
struct Hook {
    id: i64,
    secret: String,
}

/// `POST /api/v1/admin/webhooks` for `url` and `events`; asserts 201.
async fn register<S, B>(app: &S, url: &str, events: &[&str]) -> Hook
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = send(
        app,
        TestRequest::post()
            .uri(WEBHOOKS)
            .set_json(json!({"url": url, "events": events})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["active"], true, "{}", r.json);
    let secret = r.json["secret"].as_str().expect("secret").to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    Hook {
        id: r.json["id"].as_i64().expect("id"),
        secret,
    }
}

/// A webhook's deliveries log, newest first.
async fn deliveries<S, B>(app: &S, hook: &Hook) -> Vec<Value>
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let page = admin_get(app, &format!("{WEBHOOKS}/{}/deliveries?limit=200", hook.id)).await;
    let items = page["items"].as_array().expect("items").clone();
    assert_eq!(page["total"], items.len(), "{page}");
    items
}

/// Asserts that `r` is a signed delivery by `secret` at `unix` (API §7); its body.
fn assert_signed(r: &Received, secret: &str, unix: i64) -> Value {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let header = r.header("cohai-signature").expect("Cohai-Signature");
    let pattern = regex::Regex::new(r"^t=([0-9]+),v1=([0-9a-f]{64})$").expect("regex");
    let parts = pattern.captures(header).expect("t=<digits>,v1=<64 hex>");
    let t = &parts[1];
    assert_eq!(t, unix.to_string(), "signed at the dispatcher's time");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    assert_eq!(
        &parts[2],
        hex::encode(mac.finalize().into_bytes()),
        "HMAC-SHA256 of \"<t>.<body>\" with the secret"
    );
    let body = r.json();
    assert_eq!(
        r.header("cohai-event-id"),
        body["id"].as_str(),
        "Cohai-Event-Id is the body's id"
    );
    let id = body["id"].as_str().expect("id");
    assert!(
        id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4,
        "a UUID: {id}"
    );
    assert!(
        body["created_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')),
        "{body}"
    );
    body
}

fn types(bodies: &[Value]) -> Vec<&str> {
    bodies
        .iter()
        .map(|b| b["type"].as_str().expect("type"))
        .collect()
}

/// The `sendMessage` calls received, as `(chat_id, text)`, asserting their path and method.
fn messages(telegram: &FakeServer) -> Vec<(String, String)> {
    telegram
        .requests()
        .iter()
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, format!("/bot{TOKEN}/sendMessage"));
            let body = r.json();
            (
                body["chat_id"].as_str().expect("chat_id").to_owned(),
                body["text"].as_str().expect("text").to_owned(),
            )
        })
        .collect()
}

/// The value of the sample `series` (name and labels) in a `/metrics` text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn metrics_text<S, B>(app: &S) -> String
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(app, TestRequest::get().uri("/metrics")).await;
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).expect("UTF-8")
}

const WEBHOOK_SUCCESS: &str = r#"cohai_deliveries_total{channel="webhook",result="success"}"#;
const WEBHOOK_FAILURE: &str = r#"cohai_deliveries_total{channel="webhook",result="failure"}"#;

// ---------------------------------------------------------------------------------------
// Telegram

async fn a_website_lead_sends_one_message_to_its_locations_chat_else_the_default(backend: Backend) {
    let t = app(backend);
    let c = t.catalog();
    let (moscow, berlin) = (c.locations[0].id, c.locations[1].id);
    // Friday 4 December 2026, 19:00 in Moscow.
    let session = t.session(builders::session(
        moscow,
        c.program_types[0].id,
        c.trainers[0].id,
        at("2026-12-04T16:00:00Z"),
    ));
    let telegram = FakeServer::telegram();
    let n = Notifier::new(&t, &telegram_settings(&telegram, moscow, true));
    let app = t.service().await;

    // The chosen class's location is the lead's: the studio's chat.
    let anna_form = with(
        form("Анна", "+7 916 123 45 67"),
        "class_session_id",
        json!(session.id),
    );
    let anna = new_lead(&app, &anna_form).await;
    // A location without a chat of its own: the default chat.
    let boris = new_lead(
        &app,
        &with(
            form("Борис", "+7 916 765 43 21"),
            "location_id",
            json!(berlin),
        ),
    )
    .await;
    // Not from the website: no message.
    let r = send(
        &app,
        TestRequest::post().uri(LEADS).set_json(json!({
            "name": "Вера", "phone": "+7 903 111 22 33", "source": "phone"
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);

    assert_eq!(n.settle().await, 2);
    let anna_phone = admin_get(&app, &format!("{LEADS}/{anna}")).await["phone"]
        .as_str()
        .expect("phone")
        .to_owned();
    let boris_phone = admin_get(&app, &format!("{LEADS}/{boris}")).await["phone"]
        .as_str()
        .expect("phone")
        .to_owned();
    let mut sent = messages(&telegram);
    sent.sort();
    assert_eq!(
        sent,
        [
            (
                STUDIO_CHAT.to_owned(),
                format!(
                    "Новая заявка №{anna}\nСтудия: Центр\nНаправление: Стретчинг\n\
                     Занятие: пт, 4 декабря, 19:00\nИмя: Анна\nТелефон: {anna_phone}"
                )
            ),
            (
                DEFAULT_CHAT.to_owned(),
                format!(
                    "Новая заявка №{boris}\nСтудия: Berlin Mitte\nИмя: Борис\nТелефон: {boris_phone}"
                )
            ),
        ]
    );

    // The same person again: one more message, a resubmission, to the same chat.
    assert_eq!(submit(&app, &anna_form).await, anna);
    assert_eq!(n.settle().await, 1);
    let sent = messages(&telegram);
    assert_eq!(sent.len(), 3, "{sent:?}");
    let (chat, text) = &sent[2];
    assert_eq!(chat, STUDIO_CHAT);
    assert!(
        text.starts_with(&format!("Повторная заявка №{anna}\nСтудия: Центр\n")),
        "{text}"
    );
    assert!(
        text.contains("Имя: Анна") && text.contains(&anna_phone),
        "{text}"
    );

    // Nothing more, however long we wait.
    n.advance(TimeDelta::days(2));
    assert_eq!(n.drain().await, 0);
    assert_eq!(telegram.count(), 3);
}

async fn without_include_contact_the_message_has_neither_name_nor_phone(backend: Backend) {
    let t = app(backend);
    let c = t.catalog();
    let moscow = c.locations[0].id;
    let telegram = FakeServer::telegram();
    let n = Notifier::new(&t, &telegram_settings(&telegram, moscow, false));
    let app = t.service().await;
    let studio = new_lead(
        &app,
        &with(
            form("Анна", "+7 916 123 45 67"),
            "location_id",
            json!(moscow),
        ),
    )
    .await;
    let nowhere = new_lead(&app, &form("Борис", "+7 916 765 43 21")).await;
    assert_eq!(n.settle().await, 2);
    let mut sent = messages(&telegram);
    sent.sort();
    assert_eq!(
        sent,
        [
            (
                STUDIO_CHAT.to_owned(),
                format!("Новая заявка №{studio}\nСтудия: Центр")
            ),
            (DEFAULT_CHAT.to_owned(), format!("Новая заявка №{nowhere}")),
        ]
    );
    for (_, text) in &sent {
        for personal in ["Анна", "Борис", "916", "Имя", "Телефон"] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
    }
}

async fn without_a_bot_token_nothing_is_sent_to_telegram(backend: Backend) {
    let t = app(backend);
    let c = t.catalog();
    let telegram = FakeServer::telegram();
    let mut settings = telegram_settings(&telegram, c.locations[0].id, true);
    settings.telegram.bot_token = String::new();
    let n = Notifier::new(&t, &settings);
    let app = t.service().await;
    new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.settle().await, 0);
    assert_eq!(telegram.count(), 0);
    let stats = n.dispatcher.stats().await.expect("stats");
    assert_eq!(stats.pending, 0, "no Telegram delivery was even queued");
}

async fn a_telegram_500_is_retried_after_thirty_seconds_and_not_before(backend: Backend) {
    let t = app(backend);
    let c = t.catalog();
    let telegram = FakeServer::telegram();
    telegram.then(Answer::telegram_error(500, "Internal Server Error"));
    let n = Notifier::new(&t, &telegram_settings(&telegram, c.locations[0].id, true));
    let app = t.service().await;
    let id = new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;

    assert_eq!(n.drain().await, 1);
    assert_eq!(telegram.count(), 1, "the failed call");
    // The same person again meanwhile: its message waits for the first one.
    assert_eq!(submit(&app, &form("Анна", "+7 916 123 45 67")).await, id);
    n.advance(TimeDelta::seconds(29));
    assert_eq!(n.drain().await, 0, "not retried before 30 s");
    assert_eq!(telegram.count(), 1);
    n.advance(TimeDelta::seconds(2));
    assert_eq!(n.drain().await, 1, "retried after 30 s");
    n.advance(TimeDelta::seconds(1));
    assert_eq!(n.drain().await, 1, "then the resubmission, paced");
    let sent = messages(&telegram);
    assert_eq!(sent.len(), 3);
    assert!(
        sent[2].1.starts_with(&format!("Повторная заявка №{id}\n")),
        "{}",
        sent[2].1
    );
    assert_eq!(sent[0], sent[1], "the same message again");
    assert_eq!(sent[1].0, DEFAULT_CHAT);
    assert!(
        sent[1].1.starts_with(&format!("Новая заявка №{id}\n")),
        "{}",
        sent[1].1
    );

    // Delivered: never again.
    n.advance(TimeDelta::hours(2));
    assert_eq!(n.drain().await, 0);
    assert_eq!(telegram.count(), 3);
    let text = metrics_text(&app).await;
    let telegram_total = |result: &str| {
        sample(
            &text,
            &format!(r#"cohai_deliveries_total{{channel="telegram",result="{result}"}}"#),
        )
    };
    assert_eq!(telegram_total("failure"), Some(1.0), "{text}");
    assert_eq!(telegram_total("success"), Some(2.0), "{text}");
}

async fn a_telegram_429_waits_its_retry_after_before_the_next_call(backend: Backend) {
    let t = app(backend);
    let c = t.catalog();
    let moscow = c.locations[0].id;
    let telegram = FakeServer::telegram();
    telegram.then(Answer::telegram_retry_after(5));
    let n = Notifier::new(&t, &telegram_settings(&telegram, moscow, true));
    let app = t.service().await;
    let id = new_lead(
        &app,
        &with(
            form("Анна", "+7 916 123 45 67"),
            "location_id",
            json!(moscow),
        ),
    )
    .await;

    assert_eq!(n.drain().await, 1);
    assert_eq!(telegram.count(), 1, "the rate-limited call");
    // A second lead for the same chat waits out the chat's retry_after too.
    new_lead(
        &app,
        &with(
            form("Борис", "+7 916 765 43 21"),
            "location_id",
            json!(moscow),
        ),
    )
    .await;
    for _ in 0..4 {
        n.advance(TimeDelta::seconds(1));
        assert_eq!(n.drain().await, 0, "nothing to the chat within 5 s");
    }
    assert_eq!(telegram.count(), 1);
    n.advance(TimeDelta::seconds(1));
    assert_eq!(n.drain().await, 1, "after 5 s: one message (then paced)");
    n.advance(TimeDelta::seconds(1));
    assert_eq!(n.drain().await, 1, "the other one a second later");
    let sent = messages(&telegram);
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|(chat, _)| chat == STUDIO_CHAT), "{sent:?}");
    assert!(
        sent[0].1.starts_with(&format!("Новая заявка №{id}\n")),
        "{sent:?}"
    );
    // Order is kept per lead, not across leads: the retry and Борис's in either order.
    assert!(
        sent[1..].contains(&sent[0]),
        "the rate-limited message, again: {sent:?}"
    );
    assert!(
        sent[1..]
            .iter()
            .any(|(_, text)| text.contains("Имя: Борис")),
        "{sent:?}"
    );
}

async fn two_leads_for_one_chat_are_sent_a_second_apart_and_other_chats_do_not_wait(
    backend: Backend,
) {
    let t = app(backend);
    let c = t.catalog();
    let (moscow, berlin) = (c.locations[0].id, c.locations[1].id);
    let telegram = FakeServer::telegram();
    let n = Notifier::new(&t, &telegram_settings(&telegram, moscow, true));
    let app = t.service().await;
    for (name, phone, location) in [
        ("Анна", "+7 916 000 00 01", moscow),
        ("Борис", "+7 916 000 00 02", moscow),
        ("Вера", "+7 916 000 00 03", berlin),
    ] {
        new_lead(
            &app,
            &with(form(name, phone), "location_id", json!(location)),
        )
        .await;
    }
    assert_eq!(n.drain().await, 2, "one per chat");
    let chats: Vec<String> = messages(&telegram).into_iter().map(|m| m.0).collect();
    let mut sorted = chats.clone();
    sorted.sort();
    assert_eq!(sorted, [STUDIO_CHAT, DEFAULT_CHAT], "sorted");
    n.advance(TimeDelta::milliseconds(999));
    assert_eq!(n.drain().await, 0, "the studio's chat waits a whole second");
    n.advance(TimeDelta::milliseconds(1));
    assert_eq!(n.drain().await, 1);
    let sent = messages(&telegram);
    assert_eq!(sent[2].0, STUDIO_CHAT);
    let studio: Vec<&String> = sent
        .iter()
        .filter(|(chat, _)| chat == STUDIO_CHAT)
        .map(|(_, text)| text)
        .collect();
    assert!(
        studio.iter().any(|t| t.contains("Анна")) && studio.iter().any(|t| t.contains("Борис")),
        "{studio:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Webhooks

async fn webhook_deliveries_are_signed_and_only_subscribed_events_are_sent(backend: Backend) {
    let t = app(backend);
    let receiver = FakeServer::receiver();
    let assigned_only = FakeServer::receiver();
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    let hook = register(
        &app,
        &receiver.url("/hook"),
        &["lead.created", "lead.status_changed"],
    )
    .await;
    let other = register(&app, &assigned_only.url("/hook"), &["lead.assigned"]).await;
    assert_ne!(hook.secret, other.secret);

    let id = new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    patch_lead(&app, id, &json!({"status": "contacted"})).await;
    patch_lead(&app, id, &json!({"assignee": "admin"})).await;
    assert_eq!(n.drain().await, 3);

    let received = receiver.requests();
    assert_eq!(received.len(), 2, "lead.assigned is not subscribed");
    let bodies: Vec<Value> = received
        .iter()
        .map(|r| assert_signed(r, &hook.secret, n.now_unix()))
        .collect();
    assert_eq!(types(&bodies), ["lead.created", "lead.status_changed"]);
    for body in &bodies {
        assert_eq!(body["data"]["lead"]["id"], id, "{body}");
        assert_eq!(body["data"]["lead"]["name"], "Анна", "{body}");
    }
    // The lead as it was when each event happened.
    assert_eq!(bodies[0]["data"]["lead"]["status"], "new");
    assert_eq!(bodies[1]["data"]["lead"]["status"], "contacted");
    assert_ne!(bodies[0]["id"], bodies[1]["id"]);

    let other_bodies = assigned_only.requests();
    assert_eq!(other_bodies.len(), 1);
    let body = assert_signed(&other_bodies[0], &other.secret, n.now_unix());
    assert_eq!(body["type"], "lead.assigned");
    assert_eq!(body["data"]["lead"]["assignee"], "admin");
    // Not signed with the other webhook's secret.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(hook.secret.as_bytes()).expect("key");
    mac.update(format!("{}.", n.now_unix()).as_bytes());
    mac.update(&other_bodies[0].body);
    assert!(
        !other_bodies[0]
            .header("cohai-signature")
            .expect("signature")
            .ends_with(&hex::encode(mac.finalize().into_bytes()))
    );

    let log = deliveries(&app, &hook).await;
    assert_eq!(log.len(), 2);
    for (item, body) in log.iter().rev().zip(&bodies) {
        assert_eq!(item["event_id"], body["id"]);
        assert_eq!(item["type"], body["type"]);
        assert_eq!(item["attempt"], 1);
        assert_eq!(item["status_code"], 200);
        assert_eq!(item["error"], Value::Null);
    }
}

async fn a_leads_later_event_waits_for_its_failed_earlier_one_and_both_arrive_in_order(
    backend: Backend,
) {
    let t = app(backend);
    let receiver = FakeServer::receiver();
    receiver.then(Answer::status(500));
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    let hook = register(
        &app,
        &receiver.url("/hook"),
        &["lead.created", "lead.status_changed"],
    )
    .await;
    let anna = new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.drain().await, 1);
    assert_eq!(receiver.count(), 1, "the failed lead.created");

    patch_lead(&app, anna, &json!({"status": "contacted"})).await;
    assert_eq!(
        n.drain().await,
        0,
        "lead.status_changed waits for lead.created"
    );
    assert_eq!(receiver.count(), 1);

    // Another lead is not held up.
    let boris = new_lead(&app, &form("Борис", "+7 916 765 43 21")).await;
    assert_eq!(n.drain().await, 1);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1]["type"], "lead.created");
    assert_eq!(bodies[1]["data"]["lead"]["id"], boris);

    // The retry of lead.created is due after a minute; then the status change follows.
    n.advance(TimeDelta::seconds(59));
    assert_eq!(n.drain().await, 0, "not retried before a minute");
    n.advance(TimeDelta::seconds(1));
    assert_eq!(n.drain().await, 2);
    let received = receiver.requests();
    assert_eq!(received.len(), 4);
    let bodies: Vec<Value> = received
        .iter()
        .skip(2)
        .map(|r| assert_signed(r, &hook.secret, n.now_unix()))
        .collect();
    assert_eq!(types(&bodies), ["lead.created", "lead.status_changed"]);
    assert!(bodies.iter().all(|b| b["data"]["lead"]["id"] == anna));
    assert_eq!(
        bodies[0]["id"],
        receiver.bodies()[0]["id"],
        "the same event, retried"
    );
    let log = deliveries(&app, &hook).await;
    let anna_created: Vec<&Value> = log
        .iter()
        .filter(|i| i["event_id"] == bodies[0]["id"])
        .collect();
    assert_eq!(anna_created.len(), 2);
    assert_eq!(anna_created[0]["attempt"], 2);
    assert_eq!(anna_created[0]["status_code"], 200);
    assert_eq!(anna_created[1]["attempt"], 1);
    assert_eq!(anna_created[1]["status_code"], 500);
    assert_eq!(anna_created[1]["error"], "status");
}

/// A signature's `t`, which the receiver's clock check uses.
fn signed_at(r: &Received) -> i64 {
    r.header("cohai-signature")
        .and_then(|h| h.strip_prefix("t="))
        .and_then(|h| h.split(',').next())
        .and_then(|t| t.parse().ok())
        .expect("t=")
}

async fn with_the_receiver_down_requests_still_succeed_and_delivery_resumes_when_it_is_back(
    backend: Backend,
) {
    let t = app(backend);
    let port = closed_port();
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    let hook = register(
        &app,
        &format!("http://127.0.0.1:{port}/hook"),
        &["lead.created", "lead.status_changed"],
    )
    .await;
    let id = new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.drain().await, 1);
    patch_lead(&app, id, &json!({"status": "contacted"})).await;
    assert_eq!(n.drain().await, 0, "waits for the first event");
    n.advance(TimeDelta::minutes(1));
    assert_eq!(n.drain().await, 1, "the retry after a minute");

    let log = deliveries(&app, &hook).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["attempt"], 2, "newest first");
    assert_eq!(log[1]["attempt"], 1);
    for item in &log {
        assert_eq!(item["type"], "lead.created");
        assert_eq!(item["status_code"], Value::Null);
        assert_eq!(item["error"], "connect");
        assert!(
            item["duration_ms"].as_i64().is_some_and(|d| d >= 0),
            "{item}"
        );
    }
    let event_id = log[0]["event_id"].clone();
    assert_eq!(log[1]["event_id"], event_id);

    let receiver = FakeServer::start_on(port, Answer::status(204));
    n.advance(TimeDelta::minutes(4));
    assert_eq!(
        n.drain().await,
        0,
        "the next retry is 5 minutes after the last"
    );
    n.advance(TimeDelta::minutes(1));
    assert_eq!(n.drain().await, 2);
    let received = receiver.requests();
    let bodies: Vec<Value> = received
        .iter()
        .map(|r| assert_signed(r, &hook.secret, n.now_unix()))
        .collect();
    assert_eq!(types(&bodies), ["lead.created", "lead.status_changed"]);
    assert_eq!(bodies[0]["id"], event_id);
    assert!(received.iter().all(|r| signed_at(r) == n.now_unix()));
    let log = deliveries(&app, &hook).await;
    assert_eq!(log.len(), 4);
    assert_eq!(log[0]["type"], "lead.status_changed");
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[1]["event_id"], event_id);
    assert_eq!(log[1]["attempt"], 3);
    for item in &log[..2] {
        assert_eq!(item["status_code"], 204, "{item}");
        assert_eq!(item["error"], Value::Null, "{item}");
    }
}

async fn a_redelivery_sends_the_same_event_again_and_continues_the_attempt_count(backend: Backend) {
    let t = app(backend);
    let receiver = FakeServer::receiver();
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    let hook = register(&app, &receiver.url("/hook"), &["lead.created"]).await;
    new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.drain().await, 1);
    let log = deliveries(&app, &hook).await;
    assert_eq!(log.len(), 1);
    let attempt_id = log[0]["id"].as_i64().expect("id");

    let redeliver = |attempt: i64| {
        TestRequest::post().uri(&format!(
            "{WEBHOOKS}/{}/deliveries/{attempt}/redeliver",
            hook.id
        ))
    };
    let r = send(&app, redeliver(attempt_id)).await;
    assert_eq!(r.status, 202, "{}", r.json);
    let r = send(&app, redeliver(attempt_id + 1000)).await;
    r.assert_error(404, "not_found");

    n.catch_up();
    assert_eq!(n.drain().await, 1);
    let received = receiver.requests();
    assert_eq!(received.len(), 2);
    let first = received[0].json();
    let again = assert_signed(&received[1], &hook.secret, n.now_unix());
    assert_eq!(again["id"], first["id"], "the same event");
    assert_eq!(received[1].header("cohai-event-id"), first["id"].as_str());
    assert_eq!(again["data"], first["data"]);
    assert_ne!(
        received[0].header("cohai-signature"),
        received[1].header("cohai-signature"),
        "signed afresh"
    );
    let log = deliveries(&app, &hook).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["attempt"], 2, "the count continues");
    assert_eq!(log[0]["event_id"], first["id"]);
    assert_eq!(log[0]["status_code"], 200);

    // Redelivering the newest attempt: a third.
    let newest = log[0]["id"].as_i64().expect("id");
    assert_eq!(send(&app, redeliver(newest)).await.status, 202);
    n.catch_up();
    assert_eq!(n.drain().await, 1);
    assert_eq!(deliveries(&app, &hook).await[0]["attempt"], 3);
    assert_eq!(receiver.count(), 3);
}

async fn a_webhook_failing_for_three_days_is_deactivated_and_gets_no_more_events(backend: Backend) {
    let t = app(backend);
    let receiver = FakeServer::start(Answer::status(500));
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    let hook = register(
        &app,
        &receiver.url("/hook"),
        &["lead.created", "lead.status_changed"],
    )
    .await;
    let id = new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.drain().await, 1);
    // About 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h, the last at the 3-day mark.
    let m = TimeDelta::minutes;
    let h = TimeDelta::hours;
    let schedule = [
        m(1),
        m(5),
        m(30),
        h(2),
        h(6),
        h(12),
        h(12),
        h(12),
        h(12),
        h(12),
        h(3) + m(24),
    ];
    let total: TimeDelta = schedule.iter().copied().sum();
    assert_eq!(total, TimeDelta::days(3));
    for (i, delay) in schedule.iter().enumerate() {
        n.advance(*delay - TimeDelta::seconds(1));
        assert_eq!(n.drain().await, 0, "retry {} not before {delay}", i + 1);
        let hook_now = admin_get(&app, &format!("{WEBHOOKS}/{}", hook.id)).await;
        assert_eq!(
            hook_now["active"],
            true,
            "still active before retry {}",
            i + 1
        );
        n.advance(TimeDelta::seconds(1));
        assert_eq!(n.drain().await, 1, "retry {} after {delay}", i + 1);
    }
    assert_eq!(receiver.count(), 12);
    let shown = admin_get(&app, &format!("{WEBHOOKS}/{}", hook.id)).await;
    assert_eq!(shown["active"], false, "deactivated: {shown}");
    let listed = admin_get(&app, WEBHOOKS).await;
    assert_eq!(listed["items"][0]["active"], false, "{listed}");
    let log = deliveries(&app, &hook).await;
    assert_eq!(log.len(), 12);
    assert_eq!(log[0]["attempt"], 12);
    assert!(log.iter().all(|i| i["status_code"] == 500));

    // Later events are not delivered to it.
    patch_lead(&app, id, &json!({"status": "contacted"})).await;
    new_lead(&app, &form("Борис", "+7 916 765 43 21")).await;
    for _ in 0..3 {
        n.advance(TimeDelta::days(1));
        assert_eq!(n.drain().await, 0);
    }
    assert_eq!(receiver.count(), 12);
    assert_eq!(deliveries(&app, &hook).await.len(), 12);
    assert_eq!(n.dispatcher.stats().await.expect("stats").pending, 0);
}

async fn a_private_target_is_refused_at_delivery_when_private_targets_are_not_allowed(
    backend: Backend,
) {
    let t = app(backend);
    let receiver = FakeServer::receiver();
    // Registered while allowed; delivered by a dispatcher that does not allow it.
    let n = Notifier::new(&t, &webhook_settings(false));
    let app = t.service().await;
    let hook = register(&app, &receiver.url("/hook"), &["lead.created"]).await;
    new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.drain().await, 1);
    assert_eq!(receiver.count(), 0, "never connected to");
    let log = deliveries(&app, &hook).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["error"], "refused");
    assert_eq!(log[0]["status_code"], Value::Null);
    assert_eq!(log[0]["attempt"], 1);
    n.advance(TimeDelta::minutes(1));
    assert_eq!(n.drain().await, 1, "retried like any failure");
    assert_eq!(receiver.count(), 0);
    assert_eq!(deliveries(&app, &hook).await[0]["error"], "refused");
}

async fn metrics_count_webhook_deliveries_by_result_and_show_the_pending_outbox(backend: Backend) {
    let t = app(backend);
    let up = FakeServer::receiver();
    let down = closed_port();
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    let before = metrics_text(&app).await;
    assert_eq!(sample(&before, WEBHOOK_SUCCESS), Some(0.0), "{before}");
    assert_eq!(sample(&before, "cohai_outbox_pending"), Some(0.0));
    register(&app, &up.url("/hook"), &["lead.created"]).await;
    register(
        &app,
        &format!("http://127.0.0.1:{down}/hook"),
        &["lead.created"],
    )
    .await;
    new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    new_lead(&app, &form("Борис", "+7 916 765 43 21")).await;
    assert_eq!(n.drain().await, 4);
    let text = metrics_text(&app).await;
    assert_eq!(sample(&text, WEBHOOK_SUCCESS), Some(2.0), "{text}");
    assert_eq!(sample(&text, WEBHOOK_FAILURE), Some(2.0), "{text}");

    // The gauges are the running dispatcher's (refreshed every second): run the real one
    // on this database and metrics, and watch `/metrics` see the two retries waiting.
    let mut settings = webhook_settings(true);
    settings.outbox.poll_interval_ms = 20;
    let running =
        cohai_server::notifications::start(&settings, t.repos.outbox.clone(), t.metrics())
            .expect("start the dispatcher")
            .expect("dispatching is on");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = metrics_text(&app).await;
        if sample(&text, "cohai_outbox_pending") == Some(2.0) || Instant::now() > deadline {
            break text;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    drop(running);
    assert_eq!(sample(&text, "cohai_outbox_pending"), Some(2.0), "{text}");
    assert!(
        sample(&text, "cohai_outbox_oldest_pending_seconds").is_some_and(|s| s >= 0.0),
        "{text}"
    );
    assert_eq!(sample(&text, WEBHOOK_SUCCESS), Some(2.0), "{text}");
}

async fn an_erased_leads_undelivered_events_go_out_without_its_personal_data(backend: Backend) {
    let t = app(backend);
    let c = t.catalog();
    let moscow = c.locations[0].id;
    let port = closed_port();
    let telegram = FakeServer::telegram();
    telegram.then(Answer::telegram_error(502, "Bad Gateway"));
    let n = Notifier::new(&t, &telegram_settings(&telegram, moscow, true));
    let app = t.service().await;
    let hook = register(
        &app,
        &format!("http://127.0.0.1:{port}/hook"),
        &["lead.created", "lead.erased"],
    )
    .await;
    let id = new_lead(
        &app,
        &with(
            with(
                form("Анна", "+7 916 123 45 67"),
                "location_id",
                json!(moscow),
            ),
            "message",
            json!("Позвоните после шести"),
        ),
    )
    .await;
    assert_eq!(n.drain().await, 2, "the webhook and Telegram both fail");
    let r = send(&app, TestRequest::delete().uri(&format!("{LEADS}/{id}"))).await;
    assert_eq!(r.status, 204, "{}", r.json);

    let receiver = FakeServer::start_on(port, Answer::status(200));
    n.advance(TimeDelta::minutes(1));
    assert_eq!(n.drain().await, 3, "both retries, then lead.erased");
    let sent = messages(&telegram);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1],
        (
            STUDIO_CHAT.to_owned(),
            format!("Новая заявка №{id}\nСтудия: Центр")
        ),
        "the retried message has no contact any more"
    );
    let bodies: Vec<Value> = receiver
        .requests()
        .iter()
        .map(|r| assert_signed(r, &hook.secret, n.now_unix()))
        .collect();
    assert_eq!(types(&bodies), ["lead.created", "lead.erased"]);
    let lead = &bodies[0]["data"]["lead"];
    assert_eq!(lead["id"], id);
    assert_eq!(lead["location_id"], moscow);
    let shown = lead.to_string();
    for personal in ["Анна", "9161234567", "Позвоните"] {
        assert!(!shown.contains(personal), "{personal} in {shown}");
    }
    assert_eq!(bodies[1]["data"], json!({"lead_id": id}));
}

async fn a_cancelled_class_sends_one_event_and_one_message_listing_its_open_leads(
    backend: Backend,
) {
    let t = app(backend);
    let c = t.catalog();
    let moscow = c.locations[0].id;
    // Friday 4 December 2026, 19:00 in Moscow.
    let session = t.session(builders::session(
        moscow,
        c.program_types[0].id,
        c.trainers[0].id,
        at("2026-12-04T16:00:00Z"),
    ));
    let telegram = FakeServer::telegram();
    let receiver = FakeServer::receiver();
    let n = Notifier::new(&t, &telegram_settings(&telegram, moscow, true));
    let app = t.service().await;
    let hook = register(&app, &receiver.url("/hook"), &["class_session.cancelled"]).await;
    let chose =
        |name: &str, phone: &str| with(form(name, phone), "class_session_id", json!(session.id));
    let anna = new_lead(&app, &chose("Анна", "+7 916 000 00 01")).await;
    let boris = new_lead(&app, &chose("Борис", "+7 916 000 00 02")).await;
    let vera = new_lead(&app, &chose("Вера", "+7 916 000 00 03")).await;
    patch_lead(&app, vera, &json!({"status": "converted"})).await;
    assert_eq!(n.settle().await, 3, "the three new leads' messages");

    let r = send(
        &app,
        TestRequest::patch()
            .uri(&format!("/api/v1/admin/class-sessions/{}", session.id))
            .set_json(json!({"status": "cancelled", "cancellation_reason": "Тренер заболел"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(n.drain().await, 2, "one event, one message");

    let received = receiver.requests();
    assert_eq!(received.len(), 1, "one event per session");
    let body = assert_signed(&received[0], &hook.secret, n.now_unix());
    assert_eq!(body["type"], "class_session.cancelled");
    assert_eq!(body["data"]["class_session"]["id"], session.id);
    assert_eq!(body["data"]["class_session"]["status"], "cancelled");
    assert_eq!(
        body["data"]["class_session"]["cancellation_reason"],
        "Тренер заболел"
    );
    let mut lead_ids: Vec<i64> = body["data"]["lead_ids"]
        .as_array()
        .expect("lead_ids")
        .iter()
        .map(|id| id.as_i64().expect("id"))
        .collect();
    lead_ids.sort_unstable();
    assert_eq!(lead_ids, [anna, boris], "the open leads only");

    let sent = messages(&telegram);
    assert_eq!(sent.len(), 4);
    let (chat, text) = &sent[3];
    assert_eq!(chat, STUDIO_CHAT);
    assert!(
        text.starts_with(
            "Отменено занятие\nСтудия: Центр\nНаправление: Стретчинг\n\
             Занятие: пт, 4 декабря, 19:00\nПричина: Тренер заболел\nЗаявки (2):\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("№{anna} Анна, +79160000001"))
            && text.contains(&format!("№{boris} Борис, +79160000002"))
            && !text.contains("Вера"),
        "{text}"
    );
}

async fn deactivating_a_webhook_drops_its_pending_deliveries_and_reactivating_sends_only_new_events(
    backend: Backend,
) {
    let t = app(backend);
    let port = closed_port();
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    let hook = register(
        &app,
        &format!("http://127.0.0.1:{port}/hook"),
        &["lead.created"],
    )
    .await;
    new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.drain().await, 1, "the receiver is down");
    let uri = format!("{WEBHOOKS}/{}", hook.id);
    let off = send(
        &app,
        TestRequest::patch()
            .uri(&uri)
            .set_json(json!({"active": false})),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.json);
    assert_eq!(off.json["active"], false);
    new_lead(&app, &form("Борис", "+7 916 765 43 21")).await;
    let attempt = deliveries(&app, &hook).await[0]["id"].as_i64().expect("id");
    let r = send(
        &app,
        TestRequest::post().uri(&format!("{uri}/deliveries/{attempt}/redeliver")),
    )
    .await;
    r.assert_error(409, "conflict");

    let on = send(
        &app,
        TestRequest::patch()
            .uri(&uri)
            .set_json(json!({"active": true})),
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.json);
    let receiver = FakeServer::start_on(port, Answer::status(200));
    n.advance(TimeDelta::days(1));
    assert_eq!(
        n.drain().await,
        0,
        "neither the dropped nor the inactive time's event"
    );
    let vera = new_lead(&app, &form("Вера", "+7 916 000 00 03")).await;
    n.catch_up();
    assert_eq!(n.drain().await, 1);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["data"]["lead"]["id"], vera);
}

async fn telegram_gives_up_after_a_day_of_failures(backend: Backend) {
    let t = app(backend);
    let c = t.catalog();
    let telegram = FakeServer::start(Answer::telegram_error(500, "Internal Server Error"));
    let n = Notifier::new(&t, &telegram_settings(&telegram, c.locations[0].id, true));
    let app = t.service().await;
    new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.drain().await, 1);
    // 30 s, doubling, at most an hour apart, for 24 hours.
    let mut delays: Vec<TimeDelta> = (0..7).map(|k| TimeDelta::seconds(30 << k)).collect();
    delays.push(TimeDelta::hours(1));
    let mut elapsed: TimeDelta = delays.iter().copied().sum();
    while elapsed + TimeDelta::hours(1) <= TimeDelta::hours(24) {
        delays.push(TimeDelta::hours(1));
        elapsed += TimeDelta::hours(1);
    }
    delays.push(TimeDelta::hours(24) - elapsed);
    for (i, delay) in delays.iter().enumerate() {
        n.advance(*delay - TimeDelta::seconds(1));
        assert_eq!(n.drain().await, 0, "retry {} not before {delay}", i + 1);
        n.advance(TimeDelta::seconds(1));
        assert_eq!(n.drain().await, 1, "retry {} after {delay}", i + 1);
    }
    assert_eq!(telegram.count(), delays.len() + 1);
    n.advance(TimeDelta::days(7));
    assert_eq!(n.drain().await, 0, "given up");
    assert_eq!(n.dispatcher.stats().await.expect("stats").pending, 0);
}

async fn a_redirect_is_a_failure_with_its_status_and_is_not_followed(backend: Backend) {
    let t = app(backend);
    let elsewhere = FakeServer::receiver();
    let receiver = FakeServer::start(Answer::redirect(302, &elsewhere.url("/hook")));
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    let hook = register(&app, &receiver.url("/hook"), &["lead.created"]).await;
    new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    assert_eq!(n.drain().await, 1);
    assert_eq!(receiver.count(), 1);
    assert_eq!(elsewhere.count(), 0, "not followed");
    let log = deliveries(&app, &hook).await;
    assert_eq!(log[0]["status_code"], 302);
    assert_ne!(log[0]["error"], Value::Null);
    n.advance(TimeDelta::minutes(1));
    assert_eq!(n.drain().await, 1, "retried like any failure");
    assert_eq!(elsewhere.count(), 0);
}

async fn a_delivery_claimed_by_an_instance_that_died_is_made_again_once_its_lease_runs_out(
    backend: Backend,
) {
    use cohai_domain::outbox::{AttemptRecord, NextStep};
    let t = app(backend);
    let receiver = FakeServer::receiver();
    let n = Notifier::new(&t, &webhook_settings(true));
    let app = t.service().await;
    register(&app, &receiver.url("/hook"), &["lead.created"]).await;
    new_lead(&app, &form("Анна", "+7 916 123 45 67")).await;
    // Another instance routes and claims it, then dies before delivering.
    let now = cohai_notify::dispatch::Clock::now(&*n.clock);
    assert_eq!(t.repos.outbox.route(None, now, 100).expect("route"), 1);
    let stale = t
        .repos
        .outbox
        .claim(
            now,
            Duration::from_secs(60),
            cohai_domain::outbox::ClaimLimits::batch(32),
        )
        .expect("claim");
    assert_eq!(stale.len(), 1);
    assert_eq!(n.drain().await, 0, "leased to the other instance");
    n.advance(TimeDelta::seconds(59));
    assert_eq!(n.drain().await, 0, "still leased");
    n.advance(TimeDelta::seconds(2));
    assert_eq!(n.drain().await, 1, "the lease ran out: delivered here");
    assert_eq!(receiver.count(), 1);
    assert_eq!(
        receiver.requests()[0].header("cohai-event-id"),
        Some(stale[0].event.event_id.as_str())
    );

    // The other instance comes back and records a failure: it no longer holds the lease,
    // so the delivery stays delivered.
    let kept = t
        .repos
        .outbox
        .complete(
            &stale[0],
            &AttemptRecord {
                status_code: Some(500),
                error: Some("status".to_owned()),
                duration: Duration::from_millis(5),
            },
            &NextStep::RetryAt(now + TimeDelta::minutes(1)),
            None,
            now + TimeDelta::seconds(90),
        )
        .expect("complete");
    assert!(!kept, "the lease was lost");
    n.advance(TimeDelta::hours(1));
    assert_eq!(n.drain().await, 0, "not made a third time");
    assert_eq!(receiver.count(), 1);
}

async fn a_backlog_for_one_telegram_chat_does_not_hold_up_webhook_deliveries(backend: Backend) {
    let t = app(backend);
    let c = t.catalog();
    let moscow = c.locations[0].id;
    let telegram = FakeServer::telegram();
    let n = Notifier::new(&t, &telegram_settings(&telegram, moscow, true));
    let app = t.service().await;
    // More messages for one chat than a cycle claims (32): a busy evening.
    for i in 0..40 {
        new_lead(
            &app,
            &with(
                form("Анна", &format!("+7916{i:07}")),
                "location_id",
                json!(moscow),
            ),
        )
        .await;
    }
    assert_eq!(n.drain().await, 1, "one message a second to the chat");
    let receiver = FakeServer::receiver();
    register(&app, &receiver.url("/hook"), &["lead.created"]).await;
    let id = new_lead(&app, &form("Борис", "+7 903 111 22 33")).await;
    // The webhook's delivery (and the default chat's message) are due now, like the
    // waiting messages of the studio's chat: they are made now, not after its backlog.
    assert_eq!(n.drain().await, 2);
    let bodies = receiver.bodies();
    assert_eq!(
        bodies.len(),
        1,
        "the webhook is not held up by the chat's backlog"
    );
    assert_eq!(bodies[0]["data"]["lead"]["id"], id);
    let chats: Vec<String> = messages(&telegram).into_iter().map(|m| m.0).collect();
    assert_eq!(chats, [STUDIO_CHAT, DEFAULT_CHAT]);
    // The backlog goes on at one a second.
    n.advance(TimeDelta::seconds(1));
    assert_eq!(n.drain().await, 1);
    assert_eq!(telegram.count(), 3);
}

/// Polls `done` every 20 ms until it holds; false if it did not within `limit`.
async fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// The server's running dispatcher (`dispatch::start`) over `t`'s outbox, polling every 50 ms.
fn start_dispatcher(t: &TestApp, settings: &Settings) -> cohai_notify::dispatch::RunningDispatcher {
    let dispatcher = cohai_server::notifications::dispatcher(
        settings,
        t.repos.outbox.clone(),
        t.metrics(),
        Arc::new(SystemClock),
    )
    .expect("a dispatcher from the settings");
    cohai_notify::dispatch::start(
        dispatcher,
        LoopSettings {
            poll_interval: Duration::from_millis(50),
            retention: TimeDelta::days(7),
        },
    )
    .expect("the dispatcher starts")
}

/// The studio's Telegram message arrives within `within` of `submitted`.
async fn assert_studio_message_sent_promptly(
    telegram: &FakeServer,
    submitted: Instant,
    within: Duration,
) {
    assert!(
        eventually(2 * within, || messages(telegram)
            .iter()
            .any(|(chat, _)| chat == STUDIO_CHAT))
        .await,
        "the studio's message did not come"
    );
    assert!(
        submitted.elapsed() < within,
        "sent {:?} after the lead",
        submitted.elapsed()
    );
}

/// The running dispatcher (`dispatch::start`, the server's) does not wait for a slow
/// receiver: while a webhook takes seconds to answer, the next lead's Telegram message goes
/// out at once, and the slow delivery is still made and recorded as delivered.
async fn a_slow_webhook_receiver_does_not_hold_up_the_next_leads_telegram_message(
    backend: Backend,
) {
    const SLOW: Duration = Duration::from_secs(4);
    let t = app(backend);
    let moscow = t.catalog().locations[0].id;
    let telegram = FakeServer::telegram();
    let settings = telegram_settings(&telegram, moscow, true);
    let app = t.service().await;
    let slow = FakeServer::start(Answer::status(200).after(SLOW));
    let hook = register(&app, &slow.url("/hook"), &["lead.created"]).await;
    let running = start_dispatcher(&t, &settings);

    // The first lead's webhook delivery is under way, its answer seconds off.
    new_lead(&app, &form("Анна", "+7 916 000 00 01")).await;
    assert!(
        eventually(Duration::from_secs(10), || slow.count() == 1).await,
        "the webhook got the first lead"
    );
    let submitted = Instant::now();
    let second = new_lead(
        &app,
        &with(
            form("Борис", "+7 903 111 22 33"),
            "location_id",
            json!(moscow),
        ),
    )
    .await;
    assert_studio_message_sent_promptly(&telegram, submitted, SLOW / 2).await;
    // Both leads' deliveries are made, answered after the delay and recorded.
    assert!(
        eventually(3 * SLOW, || slow.count() == 2).await,
        "the webhook got the second lead too"
    );
    assert_eq!(slow.bodies()[1]["data"]["lead"]["id"], second);
    let deadline = Instant::now() + 3 * SLOW;
    loop {
        let log = deliveries(&app, &hook).await;
        if log.len() == 2 && log.iter().all(|d| d["status_code"] == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "recorded: {log:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    drop(running);
}

/// A slow receiver with a backlog takes only `per_webhook` (4) of the dispatcher's 32
/// deliveries in flight: the rest go to everyone else, so a new lead's Telegram message is
/// not queued behind the backlog.
async fn a_slow_receivers_backlog_takes_only_its_share_of_the_deliveries_in_flight(
    backend: Backend,
) {
    const SLOW: Duration = Duration::from_secs(4);
    const BACKLOG: u32 = 40;
    let t = app(backend);
    let moscow = t.catalog().locations[0].id;
    let telegram = FakeServer::telegram();
    let settings = telegram_settings(&telegram, moscow, true);
    let app = t.service().await;
    let slow = FakeServer::start(Answer::status(200).after(SLOW));
    register(&app, &slow.url("/hook"), &["lead.created"]).await;
    for n in 0..BACKLOG {
        new_lead(
            &app,
            &form("Анна", &format!("+7 916 000 {:02} {:02}", n / 100, n % 100)),
        )
        .await;
    }
    let running = start_dispatcher(&t, &settings);

    assert!(
        eventually(SLOW / 2, || slow.count() == 4).await,
        "four of the backlog are under way"
    );
    let submitted = Instant::now();
    new_lead(
        &app,
        &with(
            form("Борис", "+7 903 111 22 33"),
            "location_id",
            json!(moscow),
        ),
    )
    .await;
    assert_studio_message_sent_promptly(&telegram, submitted, SLOW / 2).await;
    assert_eq!(
        slow.count(),
        4,
        "no more than four at once reach the slow receiver"
    );
    drop(running);
}

e2e_tests!(
    a_website_lead_sends_one_message_to_its_locations_chat_else_the_default,
    without_include_contact_the_message_has_neither_name_nor_phone,
    without_a_bot_token_nothing_is_sent_to_telegram,
    a_telegram_500_is_retried_after_thirty_seconds_and_not_before,
    a_telegram_429_waits_its_retry_after_before_the_next_call,
    two_leads_for_one_chat_are_sent_a_second_apart_and_other_chats_do_not_wait,
    webhook_deliveries_are_signed_and_only_subscribed_events_are_sent,
    a_leads_later_event_waits_for_its_failed_earlier_one_and_both_arrive_in_order,
    with_the_receiver_down_requests_still_succeed_and_delivery_resumes_when_it_is_back,
    a_redelivery_sends_the_same_event_again_and_continues_the_attempt_count,
    a_webhook_failing_for_three_days_is_deactivated_and_gets_no_more_events,
    a_private_target_is_refused_at_delivery_when_private_targets_are_not_allowed,
    metrics_count_webhook_deliveries_by_result_and_show_the_pending_outbox,
    an_erased_leads_undelivered_events_go_out_without_its_personal_data,
    a_cancelled_class_sends_one_event_and_one_message_listing_its_open_leads,
    deactivating_a_webhook_drops_its_pending_deliveries_and_reactivating_sends_only_new_events,
    telegram_gives_up_after_a_day_of_failures,
    a_redirect_is_a_failure_with_its_status_and_is_not_followed,
    a_delivery_claimed_by_an_instance_that_died_is_made_again_once_its_lease_runs_out,
    a_backlog_for_one_telegram_chat_does_not_hold_up_webhook_deliveries,
    a_slow_webhook_receiver_does_not_hold_up_the_next_leads_telegram_message,
    a_slow_receivers_backlog_takes_only_its_share_of_the_deliveries_in_flight,
);

// ---------------------------------------------------------------------------------------
// PostgreSQL only: several instances

/// Events made for the concurrency test.
const EVENTS: usize = 50;

mod postgres_only {
    use super::*;

    /// A second instance's repositories: its own connection pool on the same database.
    fn second_instance(t: &TestApp) -> cohai_persistence::Database {
        cohai_persistence::Database::open(
            cohai_persistence::DatabaseUrl::parse(&t.db.url),
            &cohai_persistence::PoolSettings::default(),
        )
        .expect("a second pool")
    }

    /// Leads for the concurrent Telegram test: half for the studio's chat, half for the default.
    const MESSAGES: usize = 80;

    #[actix_web::test]
    async fn two_dispatchers_pace_each_chat_together_and_send_each_message_exactly_once() {
        let t = app(Backend::Postgres);
        let c = t.catalog();
        let (moscow, berlin) = (c.locations[0].id, c.locations[1].id);
        let telegram = FakeServer::telegram();
        let app = t.service().await;
        for i in 0..MESSAGES {
            let location = if i % 2 == 0 { moscow } else { berlin };
            new_lead(
                &app,
                &with(
                    form("Анна", &format!("+7916{i:07}")),
                    "location_id",
                    json!(location),
                ),
            )
            .await;
        }
        let settings = telegram_settings(&telegram, moscow, true);
        let other = second_instance(&t);
        // One clock for both instances, moved by this thread between the steps.
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let dispatchers: Vec<Dispatcher> = [t.repos.outbox.clone(), other.repositories().outbox]
            .into_iter()
            .map(|outbox| {
                cohai_server::notifications::dispatcher(
                    &settings,
                    outbox,
                    t.metrics(),
                    Arc::clone(&clock) as _,
                )
                .expect("dispatcher")
            })
            .collect();
        let steps = MESSAGES / 2 + 2;
        let barrier = std::sync::Barrier::new(dispatchers.len() + 1);
        let mut sent_after_step = Vec::new();
        let errors: Vec<String> = std::thread::scope(|s| {
            let runs: Vec<_> = dispatchers
                .iter()
                .map(|dispatcher| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        // One runtime for the whole run: its HTTP connections live on it.
                        actix_web::rt::System::new().block_on(async move {
                            let mut errors = Vec::new();
                            for _ in 0..steps {
                                barrier.wait();
                                for _ in 0..3 {
                                    if let Err(e) = dispatcher.run_once().await {
                                        errors.push(e.to_string());
                                    }
                                }
                                barrier.wait();
                            }
                            errors
                        })
                    })
                })
                .collect();
            for _ in 0..steps {
                barrier.wait();
                barrier.wait();
                sent_after_step.push(telegram.count());
                clock.advance(TimeDelta::seconds(1));
            }
            runs.into_iter()
                .flat_map(|r| r.join().expect("a dispatcher thread"))
                .collect()
        });
        assert!(errors.is_empty(), "cycles failed: {errors:?}");
        // Each second (step), at most one message per chat, from whichever instance.
        let expected: Vec<usize> = (1..=steps).map(|s| (2 * s).min(MESSAGES)).collect();
        assert_eq!(sent_after_step, expected);
        let sent = messages(&telegram);
        let texts: HashSet<&str> = sent.iter().map(|(_, text)| text.as_str()).collect();
        assert_eq!(texts.len(), MESSAGES, "each message exactly once");
        let studio = sent.iter().filter(|(chat, _)| chat == STUDIO_CHAT).count();
        assert_eq!(studio, MESSAGES / 2);
    }

    #[actix_web::test]
    async fn two_dispatchers_on_one_database_deliver_each_event_exactly_once() {
        let t = app(Backend::Postgres);
        let receiver = FakeServer::receiver();
        let app = t.service().await;
        let hook = register(&app, &receiver.url("/hook"), &["lead.created"]).await;
        for i in 0..EVENTS {
            new_lead(&app, &form("Анна", &format!("+7916{i:07}"))).await;
        }
        let settings = webhook_settings(true);
        let other = second_instance(&t);
        let outboxes = [t.repos.outbox.clone(), other.repositories().outbox];
        let start = std::sync::Barrier::new(outboxes.len());
        let attempted: Vec<usize> = std::thread::scope(|s| {
            let runs: Vec<_> = outboxes
                .iter()
                .map(|outbox| {
                    let (settings, receiver, start) = (&settings, &receiver, &start);
                    let metrics = t.metrics();
                    let outbox = outbox.clone();
                    s.spawn(move || {
                        let clock = Arc::new(ManualClock::new(Utc::now()));
                        let dispatcher = cohai_server::notifications::dispatcher(
                            settings, outbox, metrics, clock as _,
                        )
                        .expect("dispatcher");
                        actix_web::rt::System::new().block_on(async move {
                            start.wait();
                            let deadline = Instant::now() + Duration::from_secs(60);
                            let (mut attempted, mut idle) = (0, 0);
                            while idle < 3 && Instant::now() < deadline {
                                let cycle = dispatcher.run_once().await.expect("cycle");
                                attempted += cycle.attempted;
                                let done = receiver.count() >= EVENTS;
                                idle = if done && cycle.attempted == 0 {
                                    idle + 1
                                } else {
                                    0
                                };
                            }
                            attempted
                        })
                    })
                })
                .collect();
            runs.into_iter()
                .map(|r| r.join().expect("a dispatcher thread"))
                .collect()
        });
        let bodies = receiver.bodies();
        let ids: HashSet<&str> = bodies
            .iter()
            .map(|b| b["id"].as_str().expect("id"))
            .collect();
        let leads: HashSet<i64> = bodies
            .iter()
            .map(|b| b["data"]["lead"]["id"].as_i64().expect("lead id"))
            .collect();
        assert_eq!(bodies.len(), EVENTS, "each event once: {attempted:?}");
        assert_eq!(ids.len(), EVENTS);
        assert_eq!(leads.len(), EVENTS);
        assert_eq!(attempted.iter().sum::<usize>(), EVENTS, "{attempted:?}");
        let log = deliveries(&app, &hook).await;
        assert_eq!(log.len(), EVENTS);
        assert!(
            log.iter()
                .all(|i| i["attempt"] == 1 && i["status_code"] == 200)
        );
        let text = metrics_text(&app).await;
        assert_eq!(
            sample(&text, WEBHOOK_SUCCESS),
            Some(EVENTS as f64),
            "{text}"
        );
    }
}
