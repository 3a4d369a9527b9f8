//! Catalog administration (API.md §6): locations, program types, trainers and membership
//! plans through `/api/v1/admin/…`, with the audit log and the public API's coherence.

use actix_web::test::TestRequest;
use cohai_e2e::{Backend, Reply, TestApp, admin, at, builders, call, e2e_tests, get};
use serde_json::{Value, json};

/// `POST path` with `body` as the admin.
async fn post<S, B>(app: &S, path: &str, body: Value) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    call(app, admin(TestRequest::post().uri(path).set_json(body))).await
}

/// `PATCH path` with `body` as the admin, with an optional `If-Match`.
async fn patch<S, B>(app: &S, path: &str, body: Value, if_match: Option<&str>) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let mut req = admin(TestRequest::patch().uri(path).set_json(body));
    if let Some(tag) = if_match {
        req = req.insert_header(("if-match", tag));
    }
    call(app, req).await
}

fn studio(name: &str) -> Value {
    json!({"name": name, "address": "ул. Ленина, 1", "city": "Москва",
           "phone": "8 (495) 123-45-67", "timezone": "Europe/Moscow"})
}

async fn locations_round_trip(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let r = post(&app, "/api/v1/admin/locations", studio(" Центр ")).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_i64().expect("id");
    assert_eq!(
        r.header("location"),
        Some(&*format!("/api/v1/admin/locations/{id}"))
    );
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(r.json["name"], "Центр", "stored trimmed");
    assert_eq!(r.json["phone"], "+74951234567", "normalised");
    assert_eq!(r.json["active"], true, "default");
    let etag = r.header("etag").expect("etag").to_owned();
    let got = call(
        &app,
        admin(TestRequest::get().uri(&format!("/api/v1/admin/locations/{id}"))),
    )
    .await;
    assert_eq!(
        (got.status.as_u16(), got.header("etag")),
        (200, Some(&*etag))
    );
    assert_eq!(got.json, r.json);
    let not_modified = call(
        &app,
        admin(TestRequest::get().uri(&format!("/api/v1/admin/locations/{id}")))
            .insert_header(("if-none-match", etag.as_str())),
    )
    .await;
    assert_eq!(not_modified.status, 304);

    let path = format!("/api/v1/admin/locations/{id}");
    let changed = patch(
        &app,
        &path,
        json!({"phone": null, "city": "Химки"}),
        Some(&etag),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.json);
    assert_eq!(
        (changed.json["phone"].clone(), changed.json["city"].clone()),
        (Value::Null, json!("Химки"))
    );
    assert_eq!(changed.json["name"], "Центр", "absent fields stay");
    let new_etag = changed.header("etag").expect("etag").to_owned();
    assert_ne!(new_etag, etag, "the ETag changes with an update");
    // Stale If-Match → 412; a missing row is 404 before that.
    patch(&app, &path, json!({"city": "Тверь"}), Some(&etag))
        .await
        .assert_error(412, "precondition_failed");
    patch(
        &app,
        "/api/v1/admin/locations/9999",
        json!({"city": "Тверь"}),
        Some(&etag),
    )
    .await
    .assert_error(404, "not_found");
    assert_eq!(
        patch(&app, &path, json!({"city": "Тверь"}), Some("*"))
            .await
            .status,
        200
    );

    let closed = post(&app, "/api/v1/admin/locations", {
        let mut s = studio("Закрыта");
        s["active"] = json!(false);
        s
    })
    .await;
    assert_eq!(closed.status, 201);
    let list = |q: &'static str| {
        let app = &app;
        async move {
            let r = call(
                app,
                admin(TestRequest::get().uri(&format!("/api/v1/admin/locations{q}"))),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.json);
            r.json["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|l| l["name"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("").await,
        ["Закрыта", "Центр"],
        "by name, inactive included"
    );
    assert_eq!(list("?active=true").await, ["Центр"]);
    assert_eq!(list("?active=false").await, ["Закрыта"]);
    call(
        &app,
        admin(TestRequest::get().uri("/api/v1/admin/locations?active=yes")),
    )
    .await
    .assert_error(400, "invalid_parameter");
    call(
        &app,
        admin(TestRequest::get().uri("/api/v1/admin/locations/abc")),
    )
    .await
    .assert_error(400, "invalid_parameter");

    let current = call(&app, admin(TestRequest::get().uri(&path))).await;
    let stale = call(
        &app,
        admin(TestRequest::delete().uri(&path)).insert_header(("if-match", etag.as_str())),
    )
    .await;
    stale.assert_error(412, "precondition_failed");
    let deleted = call(
        &app,
        admin(TestRequest::delete().uri(&path))
            .insert_header(("if-match", current.header("etag").unwrap_or_default())),
    )
    .await;
    assert_eq!(deleted.status, 204);
    call(&app, admin(TestRequest::get().uri(&path)))
        .await
        .assert_error(404, "not_found");
    call(&app, admin(TestRequest::delete().uri(&path)))
        .await
        .assert_error(404, "not_found");
}

/// Asserts a 422 naming `field`.
fn assert_invalid(r: &Reply, field: &str) {
    r.assert_error(422, "validation_failed");
    assert!(
        r.json["error"]["fields"][field].is_array(),
        "{field}: {}",
        r.json
    );
}

async fn every_rule_refuses_a_bad_value(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let location_id = t.catalog().locations[0].id;
    let with = |base: Value, field: &str, value: Value| {
        let mut body = base;
        body[field] = value;
        body
    };
    let l = "/api/v1/admin/locations";
    for (field, value) in [
        ("name", json!("")),
        ("name", json!("   ")),
        ("name", json!("a".repeat(201))),
        ("name", json!("a\u{0}b")),
        ("name", Value::Null),
        ("timezone", json!("Mars/Olympus")),
        ("timezone", json!("")),
        ("phone", json!("not a phone")),
        ("address", Value::Null),
    ] {
        assert_invalid(
            &post(&app, l, with(studio("Центр"), field, value)).await,
            field,
        );
    }
    let mut missing = studio("Центр");
    missing.as_object_mut().map(|o| o.remove("city"));
    assert_invalid(&post(&app, l, missing).await, "city");
    post(&app, l, with(studio("Центр"), "extra", json!(1)))
        .await
        .assert_error(400, "invalid_json");
    post(&app, l, with(studio("Центр"), "name", json!(5)))
        .await
        .assert_error(400, "invalid_json");
    post(&app, l, with(studio("Центр"), "active", json!("yes")))
        .await
        .assert_error(400, "invalid_json");
    assert_eq!(
        post(
            &app,
            l,
            with(studio("Центр"), "name", json!("a".repeat(200)))
        )
        .await
        .status,
        201
    );

    let p = "/api/v1/admin/program-types";
    let program = json!({"name": "Йога", "description": "Мягко\nи спокойно", "duration_minutes": 60, "level": "beginner"});
    for (field, value) in [
        ("duration_minutes", json!(14)),
        ("duration_minutes", json!(481)),
        ("level", json!("expert")),
        ("name", json!("")),
        ("description", json!("a".repeat(5001))),
    ] {
        assert_invalid(
            &post(&app, p, with(program.clone(), field, value)).await,
            field,
        );
    }
    post(
        &app,
        p,
        with(program.clone(), "duration_minutes", json!("60")),
    )
    .await
    .assert_error(400, "invalid_json");
    let created = post(&app, p, with(program.clone(), "name", json!("Йога мягкая"))).await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["description"], "Мягко\nи спокойно");
    let path = format!("{p}/{}", created.json["id"]);
    assert_invalid(
        &patch(&app, &path, json!({"level": null}), None).await,
        "level",
    );
    patch(&app, &path, json!({"version": 3}), None)
        .await
        .assert_error(400, "invalid_json");
    assert_eq!(
        patch(&app, &path, json!({"description": null}), None)
            .await
            .json["description"],
        Value::Null
    );

    let tr = "/api/v1/admin/trainers";
    for url in [
        "http://example.com/a.jpg",
        "javascript:alert(1)",
        "https://user:secret@example.com/a.jpg",
        "/photos/a.jpg",
        "ftp://example.com/a.jpg",
        // Not a URL, and not `null` either (API.md §6: `photo_url` an `https` URL).
        "",
        "   ",
    ] {
        assert_invalid(
            &post(&app, tr, json!({"full_name": "Анна", "photo_url": url})).await,
            "photo_url",
        );
    }
    assert_invalid(&post(&app, tr, json!({"full_name": ""})).await, "full_name");
    assert_invalid(&post(&app, tr, json!({"bio": "x"})).await, "full_name");
    let anna = post(
        &app,
        tr,
        json!({"full_name": "Анна Новая", "photo_url": "https://cdn.example.com/anna.jpg"}),
    )
    .await;
    assert_eq!(
        (anna.status.as_u16(), anna.json["bio"].clone()),
        (201, Value::Null),
        "{}",
        anna.json
    );
    let anna_path = format!("{tr}/{}", anna.json["id"]);
    assert_invalid(
        &patch(&app, &anna_path, json!({"photo_url": ""}), None).await,
        "photo_url",
    );
    let cleared = patch(&app, &anna_path, json!({"photo_url": null}), None).await;
    assert_eq!(
        (cleared.status.as_u16(), cleared.json["photo_url"].clone()),
        (200, Value::Null),
        "{}",
        cleared.json
    );

    let m = "/api/v1/admin/memberships";
    let offer = json!({"location_id": location_id, "name": "Пробное", "price_minor": 0,
                       "currency": "RUB", "visits": 1, "validity_days": 7});
    for (field, value) in [
        ("location_id", json!(99_999)),
        ("price_minor", json!(-1)),
        ("currency", json!("rub")),
        ("currency", json!("RUBL")),
        ("visits", json!(0)),
        ("validity_days", json!(0)),
        ("validity_days", Value::Null),
    ] {
        assert_invalid(
            &post(&app, m, with(offer.clone(), field, value)).await,
            field,
        );
    }
    let made = post(&app, m, with(offer.clone(), "visits", Value::Null)).await;
    assert_eq!(
        (made.status.as_u16(), made.json["visits"].clone()),
        (201, Value::Null),
        "{}",
        made.json
    );
    assert_eq!(made.json["price_minor"], 0);
}

async fn names_are_unique_and_a_refused_change_is_not_audited(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let l = "/api/v1/admin/locations";
    let first = post(&app, l, studio("Центр")).await;
    let mut closed = studio("Закрыта");
    closed["active"] = json!(false);
    let second = post(&app, l, closed).await;
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (201, 201));
    let audit = || async {
        call(
            &app,
            admin(TestRequest::get().uri("/api/v1/admin/audit?entity=location")),
        )
        .await
        .json["total"]
            .clone()
    };
    assert_eq!(audit().await, 2);
    post(&app, l, studio("Центр"))
        .await
        .assert_error(409, "conflict");
    post(&app, l, studio("Закрыта"))
        .await
        .assert_error(409, "conflict");
    assert_eq!(
        post(&app, l, studio("центр")).await.status,
        201,
        "case-sensitive"
    );
    let path = format!("{l}/{}", second.json["id"]);
    patch(&app, &path, json!({"name": "Центр"}), None)
        .await
        .assert_error(409, "conflict");
    assert_eq!(audit().await, 3, "only the successful creation was audited");
    let kept = call(&app, admin(TestRequest::get().uri(&path))).await;
    assert_eq!(
        (kept.json["name"].clone(), kept.header("etag")),
        (json!("Закрыта"), second.header("etag"))
    );
    // A PATCH that changes nothing writes nothing.
    let same = patch(&app, &path, json!({"name": "Закрыта"}), None).await;
    assert_eq!(
        (same.status.as_u16(), same.header("etag")),
        (200, second.header("etag"))
    );
    assert_eq!(audit().await, 3);
}

async fn referenced_rows_are_deactivated_not_deleted(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let (studio, program, coach, offer) = (
        &c.locations[0],
        &c.program_types[0],
        &c.trainers[0],
        &c.plans[0],
    );
    t.session(cohai_domain::NewClassSession {
        membership_plan_id: Some(offer.id),
        ..builders::session(studio.id, program.id, coach.id, at("2030-01-10T10:00:00Z"))
    });
    for path in [
        format!("/api/v1/admin/locations/{}", studio.id),
        format!("/api/v1/admin/program-types/{}", program.id),
        format!("/api/v1/admin/trainers/{}", coach.id),
        format!("/api/v1/admin/memberships/{}", offer.id),
    ] {
        call(&app, admin(TestRequest::delete().uri(&path)))
            .await
            .assert_error(409, "conflict");
        assert_eq!(
            call(&app, admin(TestRequest::get().uri(&path)))
                .await
                .status,
            200,
            "{path} kept"
        );
    }
    // Deactivated, they are gone from the public API.
    assert_eq!(
        get(&app, &format!("/api/v1/trainers/{}", coach.id))
            .await
            .status,
        200
    );
    let off = json!({"active": false});
    assert_eq!(
        patch(
            &app,
            &format!("/api/v1/admin/trainers/{}", coach.id),
            off.clone(),
            None
        )
        .await
        .json["active"],
        false
    );
    assert_eq!(
        patch(
            &app,
            &format!("/api/v1/admin/memberships/{}", offer.id),
            off.clone(),
            None
        )
        .await
        .status,
        200
    );
    get(&app, &format!("/api/v1/trainers/{}", coach.id))
        .await
        .assert_error(404, "not_found");
    get(&app, &format!("/api/v1/memberships/{}", offer.id))
        .await
        .assert_error(404, "not_found");
    let trainers = get(&app, "/api/v1/trainers").await;
    assert!(
        !trainers.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|t| t["id"] == coach.id)
    );
    // An unreferenced one is deleted.
    let other = &c.trainers[1];
    let r = call(
        &app,
        admin(TestRequest::delete().uri(&format!("/api/v1/admin/trainers/{}", other.id))),
    )
    .await;
    assert_eq!(r.status, 204);
}

async fn the_audit_log_records_who_changed_what(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let created = post(&app, "/api/v1/admin/trainers", json!({"full_name": "Анна"})).await;
    let id = created.json["id"].as_i64().expect("id");
    let path = format!("/api/v1/admin/trainers/{id}");
    patch(&app, &path, json!({"bio": "Мастер спорта"}), None).await;
    call(&app, admin(TestRequest::delete().uri(&path))).await;
    post(
        &app,
        "/api/v1/admin/program-types",
        json!({"name": "Йога", "duration_minutes": 60, "level": "all"}),
    )
    .await;

    let audit = |q: String| {
        let app = &app;
        async move {
            call(
                app,
                admin(TestRequest::get().uri(&format!("/api/v1/admin/audit{q}"))),
            )
            .await
        }
    };
    let page = audit(format!("?entity=trainer&entity_id={id}")).await;
    assert_eq!(page.status, 200, "{}", page.json);
    assert_eq!(page.header("cache-control"), Some("private, no-store"));
    assert_eq!(
        (
            page.json["total"].clone(),
            page.json["limit"].clone(),
            page.json["offset"].clone()
        ),
        (json!(3), json!(50), json!(0))
    );
    let items = page.json["items"].as_array().expect("items");
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["deleted", "updated", "created"], "newest first");
    for e in items {
        assert_eq!(
            (
                e["entity"].clone(),
                e["entity_id"].clone(),
                e["actor"].clone()
            ),
            (json!("trainer"), json!(id), json!("admin"))
        );
        assert!(e["created_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    }
    assert_eq!(
        items[2]["changes"],
        json!({"full_name": {"from": null, "to": "Анна"}, "bio": {"from": null, "to": null},
               "photo_url": {"from": null, "to": null}, "active": {"from": null, "to": true}})
    );
    assert_eq!(
        items[1]["changes"],
        json!({"bio": {"from": null, "to": "Мастер спорта"}})
    );
    assert_eq!(
        items[0]["changes"]["bio"],
        json!({"from": "Мастер спорта", "to": null})
    );
    assert_eq!(
        items[0]["changes"]["full_name"],
        json!({"from": "Анна", "to": null})
    );

    assert_eq!(audit(String::new()).await.json["total"], 4);
    assert_eq!(audit("?actor=admin".into()).await.json["total"], 4);
    let nobody = audit("?actor=nobody".into()).await;
    assert_eq!(
        (
            nobody.status.as_u16(),
            nobody.json["total"].clone(),
            nobody.json["items"].clone()
        ),
        (200, json!(0), json!([]))
    );
    assert_eq!(audit("?entity=class_session".into()).await.json["total"], 0);
    let second = audit("?limit=1&offset=1".into()).await;
    assert_eq!(second.json["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(second.json["items"][0]["action"], "deleted");
    for (q, parameter) in [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?offset=-1", "offset"),
        ("?entity=lead", "entity"),
        ("?entity_id=0", "entity_id"),
        ("?entity_id=abc", "entity_id"),
        ("?actor=", "actor"),
        ("?limit=1&limit=2", "limit"),
    ] {
        let r = audit(q.into()).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.json["error"]["details"]["parameter"], parameter, "{q}");
    }
}

async fn the_public_api_shows_an_admin_change_at_once(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.public_cache_ttl = std::time::Duration::from_secs(600)
    });
    let app = t.service().await;
    let c = t.catalog();
    let names = |r: Reply| -> Vec<String> {
        r.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|l| l["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let before = get(&app, "/api/v1/locations").await;
    assert!(names(before).contains(&"Центр".to_owned()));
    let location = format!("/api/v1/locations/{}", c.locations[0].id);
    let etag = get(&app, &location).await.header("etag").map(str::to_owned);
    let r = patch(
        &app,
        &format!("/api/v1/admin/locations/{}", c.locations[0].id),
        json!({"name": "Центр-2"}),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(names(get(&app, "/api/v1/locations").await).contains(&"Центр-2".to_owned()));
    let fresh = get(&app, &location).await;
    assert_eq!(fresh.json["name"], "Центр-2");
    assert_ne!(
        fresh.header("etag").map(str::to_owned),
        etag,
        "the public ETag changes too"
    );
    let created = post(
        &app,
        "/api/v1/admin/program-types",
        json!({"name": "Пилатес", "duration_minutes": 55, "level": "intermediate"}),
    )
    .await;
    assert_eq!(created.status, 201);
    assert!(names(get(&app, "/api/v1/program-types").await).contains(&"Пилатес".to_owned()));
}

e2e_tests!(
    locations_round_trip,
    every_rule_refuses_a_bad_value,
    names_are_unique_and_a_refused_change_is_not_audited,
    referenced_rows_are_deactivated_not_deleted,
    the_audit_log_records_who_changed_what,
    the_public_api_shows_an_admin_change_at_once,
);
