//! The managers' console (`/admin/`) over HTTP on both backends: signing in and out, the
//! session cookie, CSRF, roles and scopes, conflicts, and the pages' data. Its look and its
//! use in a real browser are tested by `tools/browser/console.test.mjs` (`make test-browser`).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::test::TestRequest;
use cohai_domain::{LeadScope, Role};
use cohai_e2e::{ADMIN_KEY, Backend, Reply, TestApp, admin, at, builders, call, e2e_tests, get};
use cohai_web::{AdminKey, AdminKeys};
use serde_json::json;

const SCOPED_KEY: &str = "scoped-manager-secret";
/// The host a deployed console is reached at (not loopback: its cookie must be `Secure`).
const PUBLIC_HOST: &str = "crm.cohai.example";

/// An app with the admin key and a manager of the first test studio only.
fn app(backend: Backend, scoped_location: i64) -> TestApp {
    app_with(backend, scoped_location, |_| {})
}

/// [`app`] with other settings changed by `adjust`.
fn app_with(
    backend: Backend,
    scoped_location: i64,
    adjust: impl FnOnce(&mut cohai_web::WebSettings),
) -> TestApp {
    TestApp::with(backend, |s| {
        adjust(s);
        let scoped = AdminKey::from_plain("ivan", SCOPED_KEY)
            .and_then(|k| {
                k.with_access(
                    Role::Manager,
                    LeadScope::from_locations(Some(&[scoped_location])),
                )
            })
            .expect("scoped key");
        s.admin_keys = AdminKeys::new(vec![
            AdminKey::from_plain("admin", ADMIN_KEY).expect("admin key"),
            scoped,
        ])
        .expect("distinct names");
    })
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// The cookies a response sets, by name.
fn set_cookies(reply: &Reply) -> Vec<Cookie<'static>> {
    reply
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| Cookie::parse(v.to_owned()).ok())
        .collect()
}

fn cookie_named(reply: &Reply, name: &str) -> Option<Cookie<'static>> {
    set_cookies(reply).into_iter().find(|c| c.name() == name)
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("a csrf field") + marker.len();
    page[start..]
        .split('"')
        .next()
        .expect("its value")
        .to_owned()
}

/// The first `version` field of a page.
fn version_of(page: &str) -> String {
    let marker = r#"name="version" value=""#;
    let start = page.find(marker).expect("a version field") + marker.len();
    page[start..]
        .split('"')
        .next()
        .expect("its value")
        .to_owned()
}

fn form(req: TestRequest, body: &[(&str, &str)]) -> TestRequest {
    req.insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(serde_urlencoded::to_string(body).expect("form"))
}

/// Signs in with `key` the way the sign-in page does; the reply to the sign-in POST.
async fn sign_in_reply<S, B>(app: &S, key: &str, host: &str) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    sign_in_from(app, key, host, "/admin/login", &[]).await
}

/// [`sign_in_reply`] from the sign-in page at `login` (its query, if any), posting `extra`
/// fields beside the token and the key.
async fn sign_in_from<S, B>(
    app: &S,
    key: &str,
    host: &str,
    login: &str,
    extra: &[(&str, &str)],
) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let page = call(
        app,
        TestRequest::get().uri(login).insert_header(("host", host)),
    )
    .await;
    assert_eq!(page.status, 200);
    let token = cookie_named(&page, "cohai_console_sign_in").expect("the form's cookie");
    let csrf = csrf_of(&text(&page));
    call(
        app,
        form(
            TestRequest::post()
                .uri("/admin/login")
                .insert_header(("host", host))
                .cookie(Cookie::new(
                    "cohai_console_sign_in",
                    token.value().to_owned(),
                )),
            &[&[("csrf", csrf.as_str()), ("key", key)], extra].concat(),
        ),
    )
    .await
}

/// A signed-in browser: its session cookie.
async fn signed_in<S, B>(app: &S, key: &str) -> Cookie<'static>
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let reply = sign_in_reply(app, key, "127.0.0.1:8080").await;
    assert_eq!(reply.status, 303, "{}", text(&reply));
    let cookie = cookie_named(&reply, "cohai_console").expect("a session cookie");
    Cookie::new("cohai_console", cookie.value().to_owned())
}

fn with(cookie: &Cookie<'static>, req: TestRequest) -> TestRequest {
    req.insert_header(("host", "127.0.0.1:8080"))
        .cookie(cookie.clone())
}

/// The HTML of `uri` as the browser holding `cookie` gets it.
async fn page_of<S, B>(app: &S, cookie: &Cookie<'static>, uri: &str) -> String
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    text(&call(app, with(cookie, TestRequest::get().uri(uri))).await)
}

async fn create_lead<S, B>(app: &S, name: &str, phone: &str, location_id: i64) -> i64
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let r = call(
        app,
        admin(TestRequest::post().uri("/api/v1/admin/leads")).set_json(json!({
            "name": name, "phone": phone, "location_id": location_id
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().expect("id")
}

async fn lead_json<S, B>(app: &S, id: i64) -> serde_json::Value
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    call(
        app,
        admin(TestRequest::get().uri(&format!("/api/v1/admin/leads/{id}"))),
    )
    .await
    .json
}

async fn signing_in_sets_a_strict_http_only_expiring_cookie_that_is_not_the_key(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    let reply = sign_in_reply(&app, ADMIN_KEY, PUBLIC_HOST).await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/admin/leads"));
    let cookie = cookie_named(&reply, "cohai_console").expect("session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Strict));
    assert_eq!(cookie.secure(), Some(true), "Secure off loopback");
    assert_eq!(cookie.path(), Some("/admin"));
    let age = cookie.max_age().expect("expiring").whole_minutes();
    assert!((700..=720).contains(&age), "12 hours by default: {age} min");
    assert_eq!(cookie.value().len(), 64);
    assert!(!cookie.value().contains(ADMIN_KEY));
    // The form's one-time cookie is cleared.
    let sign_in = cookie_named(&reply, "cohai_console_sign_in").expect("cleared");
    assert_eq!(sign_in.value(), "");
    // On loopback (a developer's machine over plain HTTP) the cookie goes without `Secure`.
    let local = sign_in_reply(&app, ADMIN_KEY, "127.0.0.1:8080").await;
    let cookie = cookie_named(&local, "cohai_console").expect("session cookie");
    assert_ne!(cookie.secure(), Some(true), "no Secure on loopback");
}

async fn a_wrong_key_gets_401_and_no_session(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    let reply = sign_in_reply(&app, "not-a-key", "127.0.0.1:8080").await;
    assert_eq!(reply.status, 401);
    assert!(text(&reply).contains("Неверный ключ"), "{}", text(&reply));
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(cookie_named(&reply, "cohai_console").is_none());
}

async fn signing_in_without_the_forms_token_is_refused(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    // A form posted from another page: no cookie of the sign-in page, so no token to match.
    let reply = call(
        &app,
        form(
            TestRequest::post().uri("/admin/login"),
            &[("csrf", "0123"), ("key", ADMIN_KEY)],
        ),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert!(cookie_named(&reply, "cohai_console").is_none());
}

async fn without_a_session_pages_send_to_the_sign_in_page(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    // The sign-in page is told where to return (the inbox is where it returns anyway).
    for (uri, login) in [
        ("/admin/leads", "/admin/login"),
        ("/admin/leads/1", "/admin/login?next=%2Fadmin%2Fleads%2F1"),
        ("/admin/stats", "/admin/login?next=%2Fadmin%2Fstats"),
        ("/admin/timetable", "/admin/login?next=%2Fadmin%2Ftimetable"),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, 303, "{uri}");
        assert_eq!(r.header("location"), Some(login), "{uri}");
    }
    let forged = Cookie::new("cohai_console", "f".repeat(64));
    let r = call(&app, with(&forged, TestRequest::get().uri("/admin/leads"))).await;
    assert_eq!(r.status, 303);
    // A cookie naming no session is cleared.
    assert_eq!(
        cookie_named(&r, "cohai_console").map(|c| c.value().to_owned()),
        Some(String::new())
    );
    // A write without a session changes nothing either.
    let id = create_lead(
        &app,
        "Без сессии",
        "+79031113399",
        t.catalog().locations[0].id,
    )
    .await;
    let r = call(
        &app,
        form(
            TestRequest::post().uri(&format!("/admin/leads/{id}")),
            &[("version", "1"), ("notes", "x")],
        ),
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin/login"));
    assert_eq!(lead_json(&app, id).await["notes"], serde_json::Value::Null);
}

async fn pages_forbid_scripts_and_caching(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    let cookie = signed_in(&app, ADMIN_KEY).await;
    let r = call(&app, with(&cookie, TestRequest::get().uri("/admin/leads"))).await;
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // Errors of the console are pages for people; the API's stay JSON.
    let r = call(
        &app,
        with(&cookie, TestRequest::get().uri("/admin/leads/99999")),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(text(&r).contains("Не найдено"));
    get(&app, "/api/v1/locations/99999")
        .await
        .assert_error(404, "not_found");
}

async fn a_change_without_the_csrf_token_or_from_another_site_is_refused(backend: Backend) {
    let t = app(backend, 1);
    let c = t.catalog();
    let app = t.service().await;
    let id = create_lead(&app, "Вера", "+79031112233", c.locations[0].id).await;
    let cookie = signed_in(&app, ADMIN_KEY).await;
    let page = page_of(&app, &cookie, &format!("/admin/leads/{id}")).await;
    let (csrf, version) = (csrf_of(&page), version_of(&page));
    let uri = format!("/admin/leads/{id}");
    let missing = call(
        &app,
        form(
            with(&cookie, TestRequest::post().uri(&uri)),
            &[("version", &version), ("notes", "a")],
        ),
    )
    .await;
    assert_eq!(missing.status, 403);
    let wrong = call(
        &app,
        form(
            with(&cookie, TestRequest::post().uri(&uri)),
            &[
                ("csrf", &"0".repeat(64)),
                ("version", &version),
                ("notes", "b"),
            ],
        ),
    )
    .await;
    assert_eq!(wrong.status, 403);
    let foreign = call(
        &app,
        form(
            with(&cookie, TestRequest::post().uri(&uri))
                .insert_header(("origin", "https://evil.example")),
            &[("csrf", &csrf), ("version", &version), ("notes", "c")],
        ),
    )
    .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(
        lead_json(&app, id).await["notes"],
        serde_json::Value::Null,
        "nothing changed"
    );
    // With the token, from this site, it is stored.
    let ok = call(
        &app,
        form(
            with(&cookie, TestRequest::post().uri(&uri))
                .insert_header(("origin", "http://127.0.0.1:8080")),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("notes", "Перезвонить вечером"),
            ],
        ),
    )
    .await;
    assert_eq!(ok.status, 303, "{}", text(&ok));
    assert_eq!(lead_json(&app, id).await["notes"], "Перезвонить вечером");
}

async fn signing_out_ends_the_session_on_the_server(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    let cookie = signed_in(&app, ADMIN_KEY).await;
    let page = page_of(&app, &cookie, "/admin/leads").await;
    let out = call(
        &app,
        form(
            with(&cookie, TestRequest::post().uri("/admin/logout")),
            &[("csrf", &csrf_of(&page))],
        ),
    )
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/admin/login"));
    assert_eq!(
        cookie_named(&out, "cohai_console").map(|c| c.value().to_owned()),
        Some(String::new())
    );
    // A kept copy of the cookie no longer works.
    let again = call(&app, with(&cookie, TestRequest::get().uri("/admin/leads"))).await;
    assert_eq!(again.status, 303);
    assert_eq!(again.header("location"), Some("/admin/login"));
}

async fn a_scoped_manager_sees_only_its_studio_and_not_the_timetable(backend: Backend) {
    // A fresh database numbers the test catalog's studios from 1.
    let t = app(backend, 1);
    let c = t.catalog();
    let (mine, other) = (c.locations[0].id, c.locations[1].id);
    assert_eq!(mine, 1, "the manager's studio");
    let app = t.service().await;
    let own = create_lead(&app, "Своя Ирина", "+79031110001", mine).await;
    let foreign = create_lead(&app, "Чужой Пётр", "+79031110002", other).await;
    let cookie = signed_in(&app, SCOPED_KEY).await;
    let inbox = page_of(&app, &cookie, "/admin/leads").await;
    assert!(inbox.contains("Своя Ирина"));
    assert!(
        !inbox.contains("Чужой Пётр"),
        "another studio's lead is not listed"
    );
    assert!(
        !inbox.contains("/admin/timetable"),
        "no timetable link for a manager"
    );
    let card = call(
        &app,
        with(
            &cookie,
            TestRequest::get().uri(&format!("/admin/leads/{own}")),
        ),
    )
    .await;
    assert_eq!(card.status, 200);
    let card = call(
        &app,
        with(
            &cookie,
            TestRequest::get().uri(&format!("/admin/leads/{foreign}")),
        ),
    )
    .await;
    assert_eq!(card.status, 404);
    let timetable = call(
        &app,
        with(&cookie, TestRequest::get().uri("/admin/timetable")),
    )
    .await;
    assert_eq!(timetable.status, 403);
    // Searching the other studio's name finds nothing.
    let search = page_of(&app, &cookie, "/admin/leads?q=%D0%9F%D1%91%D1%82%D1%80").await;
    assert!(search.contains("Лидов с такими условиями нет"));
}

async fn a_stale_edit_is_shown_as_a_conflict_and_changes_nothing(backend: Backend) {
    let t = app(backend, 1);
    let c = t.catalog();
    let app = t.service().await;
    let id = create_lead(&app, "Олег", "+79031112244", c.locations[0].id).await;
    let cookie = signed_in(&app, ADMIN_KEY).await;
    let page = page_of(&app, &cookie, &format!("/admin/leads/{id}")).await;
    let (csrf, version) = (csrf_of(&page), version_of(&page));
    // Someone else changes the lead meanwhile.
    let r = call(
        &app,
        admin(TestRequest::patch().uri(&format!("/api/v1/admin/leads/{id}")))
            .set_json(json!({"notes": "их заметка"})),
    )
    .await;
    assert_eq!(r.status, 200);
    let stale = call(
        &app,
        form(
            with(
                &cookie,
                TestRequest::post().uri(&format!("/admin/leads/{id}")),
            ),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("status", "converted"),
            ],
        ),
    )
    .await;
    assert_eq!(stale.status, 409);
    assert!(
        text(&stale).contains("Лид уже изменили"),
        "{}",
        text(&stale)
    );
    assert!(text(&stale).contains("их заметка"), "the card as it is now");
    let lead = lead_json(&app, id).await;
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["notes"], "их заметка");
}

async fn working_a_lead_records_each_change_with_the_manager_as_actor(backend: Backend) {
    let t = app(backend, 1);
    let c = t.catalog();
    let moscow = c.locations[0].id;
    let app = t.service().await;
    let id = create_lead(&app, "Марина", "+79031112255", moscow).await;
    let cookie = signed_in(&app, SCOPED_KEY).await;
    let card_uri = format!("/admin/leads/{id}");
    let post = |fields: Vec<(&'static str, String)>| {
        let (app, cookie, card_uri) = (&app, &cookie, card_uri.clone());
        async move {
            let page = text(&call(app, with(cookie, TestRequest::get().uri(&card_uri))).await);
            let mut body = vec![("csrf", csrf_of(&page)), ("version", version_of(&page))];
            body.extend(fields);
            let body: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(
                app,
                form(with(cookie, TestRequest::post().uri(&card_uri)), &body),
            )
            .await
        }
    };
    // Lost asks for a reason.
    let r = post(vec![("status", "lost".into()), ("lost_reason", " ".into())]).await;
    assert_eq!(r.status, 422);
    assert!(text(&r).contains("Укажите причину отказа"));
    assert_eq!(lead_json(&app, id).await["status"], "new");
    let r = post(vec![
        ("status", "lost".into()),
        ("lost_reason", "Далеко ездить".into()),
    ])
    .await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(
        r.header("location"),
        Some(format!("{card_uri}?saved=1").as_str())
    );
    let r = post(vec![("assignee", "ivan".into())]).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    // The call-back is entered in the studio's local time (Moscow, UTC+3).
    let r = post(vec![("next_contact_at", "2030-01-15T18:30".into())]).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    let lead = lead_json(&app, id).await;
    assert_eq!(lead["status"], "lost");
    assert_eq!(lead["lost_reason"], "Далеко ездить");
    assert_eq!(lead["assignee"], "ivan");
    assert_eq!(lead["next_contact_at"], "2030-01-15T15:30:00Z");
    let card = page_of(&app, &cookie, &format!("{card_uri}?saved=1")).await;
    assert!(card.contains("Сохранено"));
    assert!(
        card.contains(r#"value="2030-01-15T18:30""#),
        "shown back in local time"
    );
    let events = call(
        &app,
        admin(TestRequest::get().uri(&format!("/api/v1/admin/leads/{id}/events"))),
    )
    .await
    .json;
    let kinds: Vec<(&str, &str)> = events["items"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default(),
                e["actor"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("created", "admin"),
            ("status_changed", "ivan"),
            // The lost reason, which came with the status.
            ("updated", "ivan"),
            ("assigned", "ivan"),
            ("updated", "ivan")
        ]
    );
    // The history on the card, oldest first, with the actors.
    let history = &card[card.find(r#"class="history""#).expect("history")..];
    let (created, assigned) = (
        history.find("Заявка создана").expect("created"),
        history.find("Назначен ответственный").expect("assigned"),
    );
    assert!(created < assigned);
    assert!(history.contains(r#"<span class="actor">ivan</span>"#));
}

async fn cancelling_a_class_strikes_it_through_and_the_public_schedule_shows_it(backend: Backend) {
    // The public responses are cached as in production: the cancellation must show at once.
    let t = app_with(backend, 1, |s| {
        s.public_cache_ttl = std::time::Duration::from_secs(60);
    });
    let c = t.catalog();
    let (moscow, program, coach) = (c.locations[0].id, c.program_types[0].id, c.trainers[0].id);
    let class = t.session(builders::session(
        moscow,
        program,
        coach,
        at("2030-01-16T07:00:00Z"),
    ));
    let app = t.service().await;
    let schedule = format!("/api/v1/schedule?location_id={moscow}&from=2030-01-14&to=2030-01-20");
    assert_eq!(
        get(&app, &schedule).await.json["items"][0]["status"],
        "scheduled"
    );
    let cookie = signed_in(&app, ADMIN_KEY).await;
    let week = format!("/admin/timetable?location_id={moscow}&week=2030-01-14");
    let grid = page_of(&app, &cookie, &week).await;
    assert!(grid.contains(&format!(r#"href="/admin/timetable/sessions/{}""#, class.id)));
    assert!(
        grid.contains("10:00–11:00"),
        "in the studio's local time: {grid}"
    );
    assert!(!grid.contains("<del>"));
    let page = page_of(
        &app,
        &cookie,
        &format!("/admin/timetable/sessions/{}", class.id),
    )
    .await;
    let cancel = format!("/admin/timetable/sessions/{}/cancel", class.id);
    let blank = call(
        &app,
        form(
            with(&cookie, TestRequest::post().uri(&cancel)),
            &[
                ("csrf", &csrf_of(&page)),
                ("version", &version_of(&page)),
                ("reason", ""),
            ],
        ),
    )
    .await;
    assert_eq!(blank.status, 422);
    let done = call(
        &app,
        form(
            with(&cookie, TestRequest::post().uri(&cancel)),
            &[
                ("csrf", &csrf_of(&page)),
                ("version", &version_of(&page)),
                ("reason", "Тренер заболел"),
            ],
        ),
    )
    .await;
    assert_eq!(done.status, 303, "{}", text(&done));
    assert_eq!(done.header("location"), Some(week.as_str()));
    let grid = page_of(&app, &cookie, &week).await;
    assert!(grid.contains(r#"class="session cancelled""#), "{grid}");
    assert!(grid.contains("<del>"));
    let public = get(&app, &schedule).await;
    let item = public.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["id"] == class.id)
        .cloned()
        .expect("listed");
    assert_eq!(item["status"], "cancelled");
    // The same (now stale) form again is a conflict, not a second change.
    let again = call(
        &app,
        form(
            with(&cookie, TestRequest::post().uri(&cancel)),
            &[
                ("csrf", &csrf_of(&page)),
                ("version", &version_of(&page)),
                ("reason", "Ещё раз"),
            ],
        ),
    )
    .await;
    assert_eq!(again.status, 409);
}

async fn the_stats_page_draws_the_funnel_and_links_the_same_export(backend: Backend) {
    let t = app(backend, 1);
    let c = t.catalog();
    let (moscow, zone) = (c.locations[0].id, c.locations[0].timezone.clone());
    let app = t.service().await;
    create_lead(&app, "Юлия", "+79031112266", moscow).await;
    let cookie = signed_in(&app, ADMIN_KEY).await;
    let zone: chrono_tz::Tz = zone.parse().expect("zone");
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let (from, to) = (
        today.pred_opt().expect("day"),
        today.succ_opt().expect("day"),
    );
    let page = call(
        &app,
        with(
            &cookie,
            TestRequest::get().uri(&format!(
                "/admin/stats?created_from={from}&created_to={to}&location_id={moscow}"
            )),
        ),
    )
    .await;
    assert_eq!(page.status, 200);
    let page = text(&page);
    assert_eq!(page.matches(r#"<svg class="chart" role="img""#).count(), 3);
    assert!(
        page.contains("Воронка")
            && page.contains("Конверсия по студиям")
            && page.contains("Конверсия по источникам")
    );
    // The period's days are the studio's: the export gets the same instants.
    let midnight = |day: chrono::NaiveDate| {
        day.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(zone).earliest())
            .expect("midnight")
            .with_timezone(&chrono::Utc)
            .to_rfc3339()
    };
    let query = serde_urlencoded::to_string([
        ("created_from", midnight(from)),
        ("created_to", midnight(to.succ_opt().expect("day"))),
        ("location_id", moscow.to_string()),
    ])
    .expect("query");
    let export = format!("/admin/leads/export.csv?{query}");
    assert!(
        page.contains(&export.replace('&', "&amp;")),
        "{export} in {page}"
    );
    let csv = call(&app, with(&cookie, TestRequest::get().uri(&export))).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|c| c.starts_with("text/csv"))
    );
    assert!(text(&csv).contains("Юлия"));
    // Without a session the export is not served.
    let anonymous = get(&app, &export).await;
    assert_eq!(anonymous.status, 303);
}

async fn a_scoped_managers_export_and_class_pages_keep_to_its_rights(backend: Backend) {
    let t = app(backend, 1);
    let c = t.catalog();
    let (mine, other) = (c.locations[0].id, c.locations[1].id);
    let class = t.session(builders::session(
        other,
        c.program_types[0].id,
        c.trainers[0].id,
        at("2030-01-16T07:00:00Z"),
    ));
    let app = t.service().await;
    create_lead(&app, "Своя Алла", "+79031113301", mine).await;
    create_lead(&app, "Чужая Белла", "+79031113302", other).await;
    let cookie = signed_in(&app, SCOPED_KEY).await;
    for uri in [
        "/admin/leads/export.csv".to_owned(),
        format!("/admin/leads/export.csv?location_id={other}"),
    ] {
        let csv = call(&app, with(&cookie, TestRequest::get().uri(&uri))).await;
        assert!(!text(&csv).contains("Чужая Белла"), "{uri}: {}", text(&csv));
    }
    let own = call(
        &app,
        with(&cookie, TestRequest::get().uri("/admin/leads/export.csv")),
    )
    .await;
    assert!(text(&own).contains("Своя Алла"));
    // The class pages are admin-only: reading one and cancelling one are refused.
    let page = page_of(&app, &cookie, "/admin/leads").await;
    let class_uri = format!("/admin/timetable/sessions/{}", class.id);
    let read = call(&app, with(&cookie, TestRequest::get().uri(&class_uri))).await;
    assert_eq!(read.status, 403);
    let cancel = call(
        &app,
        form(
            with(
                &cookie,
                TestRequest::post().uri(&format!("{class_uri}/cancel")),
            ),
            &[("csrf", &csrf_of(&page)), ("version", "1"), ("reason", "x")],
        ),
    )
    .await;
    assert_eq!(cancel.status, 403);
    let schedule = get(
        &app,
        &format!("/api/v1/schedule?location_id={other}&from=2030-01-14&to=2030-01-20"),
    )
    .await;
    assert_eq!(
        schedule.json["items"][0]["status"], "scheduled",
        "nothing changed"
    );
}

async fn a_replaced_or_removed_key_ends_its_sessions(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    let cookie = signed_in(&app, ADMIN_KEY).await;
    let ok = call(&app, with(&cookie, TestRequest::get().uri("/admin/leads"))).await;
    assert_eq!(ok.status, 200);
    // Another instance (or a restart) on the same database with the key `admin` replaced.
    let replaced = |keys: Vec<AdminKey>| {
        let settings = cohai_web::WebSettings {
            admin_keys: AdminKeys::new(keys).expect("keys"),
            ..cohai_server::compose::web_settings(&cohai_server::Settings::default())
                .expect("default settings")
        };
        cohai_server::compose::app_state(&t.repos, settings, std::time::Duration::ZERO)
            .expect("state")
    };
    for keys in [
        vec![AdminKey::from_plain("admin", "a-new-admin-key").expect("key")],
        vec![AdminKey::from_plain("someone-else", ADMIN_KEY).expect("key")],
    ] {
        let other = actix_web::test::init_service(cohai_web::app(replaced(keys))).await;
        let r = call(
            &other,
            with(&cookie, TestRequest::get().uri("/admin/leads")),
        )
        .await;
        assert_eq!(r.status, 303, "the session of a replaced key is over");
        assert_eq!(r.header("location"), Some("/admin/login"));
    }
    // The same key on another instance: the session is shared.
    let same = actix_web::test::init_service(cohai_web::app(replaced(vec![
        AdminKey::from_plain("admin", ADMIN_KEY).expect("key"),
    ])))
    .await;
    let r = call(&same, with(&cookie, TestRequest::get().uri("/admin/leads"))).await;
    assert_eq!(r.status, 200, "every instance knows the session");
}

async fn an_expired_session_sends_to_the_sign_in_page(backend: Backend) {
    use sha2::Digest as _;
    let t = app(backend, 1);
    let app = t.service().await;
    let token = "e".repeat(64);
    let key = AdminKey::from_plain("admin", ADMIN_KEY).expect("key");
    let now = chrono::Utc::now();
    t.repos
        .console_sessions
        .insert(&cohai_domain::console_session::StoredConsoleSession {
            token_sha256: hex::encode(sha2::Sha256::digest(token.as_bytes())),
            key_name: "admin".into(),
            key_fingerprint: key.fingerprint(),
            created_at: now - chrono::Duration::hours(13),
            expires_at: now - chrono::Duration::hours(1),
        })
        .expect("an expired session");
    let cookie = Cookie::new("cohai_console", token);
    let r = call(&app, with(&cookie, TestRequest::get().uri("/admin/leads"))).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/admin/login"));
}

async fn sign_in_attempts_are_limited_per_client(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    for attempt in 1..=10 {
        let r = sign_in_reply(&app, "a-guess", "127.0.0.1:8080").await;
        assert_eq!(r.status, 401, "attempt {attempt}");
    }
    let refused = sign_in_reply(&app, ADMIN_KEY, "127.0.0.1:8080").await;
    assert_eq!(
        refused.status, 429,
        "the eleventh attempt within the minute"
    );
    assert!(
        refused
            .header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1))
    );
    assert!(text(&refused).contains("Слишком много попыток"));
    assert!(
        cookie_named(&refused, "cohai_console").is_none(),
        "even the right key waits"
    );
}

/// The value of the hidden `next` field of a page, if it has one.
fn next_of(page: &str) -> Option<String> {
    let marker = r#"name="next" value=""#;
    let start = page.find(marker)? + marker.len();
    page[start..].split('"').next().map(str::to_owned)
}

async fn signing_in_returns_to_the_page_that_asked_for_it_and_never_to_another_site(
    backend: Backend,
) {
    let t = app(backend, 1);
    let app = t.service().await;
    let id = create_lead(
        &app,
        "Вернуться",
        "+79031114455",
        t.catalog().locations[0].id,
    )
    .await;
    let card = format!("/admin/leads/{id}?from=inbox");
    let asked = get(&app, &card).await;
    assert_eq!(asked.status, 303);
    let login = asked
        .header("location")
        .expect("to the sign-in page")
        .to_owned();
    assert_eq!(
        login,
        format!("/admin/login?next=%2Fadmin%2Fleads%2F{id}%3Ffrom%3Dinbox")
    );
    let page = call(
        &app,
        TestRequest::get()
            .uri(&login)
            .insert_header(("host", "127.0.0.1:8080")),
    )
    .await;
    assert_eq!(next_of(&text(&page)).as_deref(), Some(card.as_str()));
    let signed = sign_in_from(
        &app,
        ADMIN_KEY,
        "127.0.0.1:8080",
        &login,
        &[("next", &card)],
    )
    .await;
    assert_eq!(signed.status, 303, "{}", text(&signed));
    assert_eq!(signed.header("location"), Some(card.as_str()));
    // A wrong key keeps the page for the next try.
    let wrong = sign_in_from(
        &app,
        "not-a-key",
        "127.0.0.1:8080",
        &login,
        &[("next", &card)],
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(next_of(&text(&wrong)).as_deref(), Some(card.as_str()));

    // Another site, in the link or forged into the form, is never followed.
    for evil in [
        "https://evil.example/admin/leads",
        "//evil.example/admin/leads",
        "/\\evil.example",
        "/admin/../api/v1/admin/leads",
    ] {
        let query = serde_urlencoded::to_string([("next", evil)]).expect("query");
        let page = call(
            &app,
            TestRequest::get()
                .uri(&format!("/admin/login?{query}"))
                .insert_header(("host", "127.0.0.1:8080")),
        )
        .await;
        assert_eq!(page.status, 200, "{evil}");
        assert_eq!(next_of(&text(&page)), None, "{evil}");
        let signed = sign_in_from(
            &app,
            ADMIN_KEY,
            "127.0.0.1:8080",
            "/admin/login",
            &[("next", evil)],
        )
        .await;
        assert_eq!(signed.status, 303, "{evil}");
        assert_eq!(signed.header("location"), Some("/admin/leads"), "{evil}");
    }
}

async fn an_error_page_shows_the_request_id_of_its_log_line(backend: Backend) {
    let t = app(backend, 1);
    let app = t.service().await;
    let cookie = signed_in(&app, ADMIN_KEY).await;
    let missing = call(
        &app,
        with(
            &cookie,
            TestRequest::get()
                .uri("/admin/leads/999999")
                .insert_header(("x-request-id", "support-123")),
        ),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-request-id"), Some("support-123"));
    assert!(
        text(&missing).contains("Код запроса: <code>support-123</code>"),
        "{}",
        text(&missing)
    );
    // Without one from the client, the id the server made (and logged).
    let missing = call(
        &app,
        with(&cookie, TestRequest::get().uri("/admin/leads/999999")),
    )
    .await;
    let id = missing.header("x-request-id").expect("an id").to_owned();
    assert!(text(&missing).contains(&format!("<code>{id}</code>")));
}

e2e_tests!(
    signing_in_sets_a_strict_http_only_expiring_cookie_that_is_not_the_key,
    a_wrong_key_gets_401_and_no_session,
    signing_in_without_the_forms_token_is_refused,
    without_a_session_pages_send_to_the_sign_in_page,
    pages_forbid_scripts_and_caching,
    a_change_without_the_csrf_token_or_from_another_site_is_refused,
    signing_out_ends_the_session_on_the_server,
    a_scoped_manager_sees_only_its_studio_and_not_the_timetable,
    a_stale_edit_is_shown_as_a_conflict_and_changes_nothing,
    working_a_lead_records_each_change_with_the_manager_as_actor,
    cancelling_a_class_strikes_it_through_and_the_public_schedule_shows_it,
    the_stats_page_draws_the_funnel_and_links_the_same_export,
    a_scoped_managers_export_and_class_pages_keep_to_its_rights,
    a_replaced_or_removed_key_ends_its_sessions,
    an_expired_session_sends_to_the_sign_in_page,
    sign_in_attempts_are_limited_per_client,
    signing_in_returns_to_the_page_that_asked_for_it_and_never_to_another_site,
    an_error_page_shows_the_request_id_of_its_log_line,
);
