//! Error messages in the client's language (issue 16): `Accept-Language: ru` gives every
//! `message` and every `error.fields` message in Russian, with `Content-Language: ru`; the
//! default stays English; weights are honoured; codes and shape do not change; a cached
//! public response never carries another client's language. Both backends.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::test::TestRequest;
use cohai_e2e::{Backend, Reply, TestApp, call, e2e_tests};
use serde_json::{Value, json};

const RU: &str = "ru";

/// A request in a language (`None`: without `Accept-Language`).
type Request = fn(Option<&str>) -> TestRequest;

/// `req` with `Accept-Language: language`, unless `None`.
fn in_language(req: TestRequest, language: Option<&str>) -> TestRequest {
    match language {
        Some(language) => req.insert_header(("accept-language", language)),
        None => req,
    }
}

fn get(uri: &str, language: Option<&str>) -> TestRequest {
    in_language(TestRequest::get().uri(uri), language)
}

fn lead(body: &Value, language: Option<&str>) -> TestRequest {
    in_language(
        TestRequest::post().uri("/api/v1/leads").set_json(body),
        language,
    )
}

/// Asserts the headers every error reply in `language` carries.
fn assert_language(reply: &Reply, language: &str) {
    assert_eq!(
        reply.header("content-language"),
        Some(language),
        "{}",
        reply.json
    );
    let vary: Vec<String> = reply
        .headers
        .get_all("vary")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    assert!(
        vary.iter().any(|v| v == "accept-language"),
        "Vary: {vary:?}"
    );
}

/// Asserts that two replies to one request in two languages differ only in their messages.
fn assert_same_shape(en: &Reply, ru: &Reply) {
    assert_eq!(en.status, ru.status);
    let (e, r) = (&en.json["error"], &ru.json["error"]);
    assert_eq!(e["code"], r["code"]);
    assert_eq!(e["details"], r["details"]);
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(keys(e), keys(r), "the same members");
    assert_eq!(keys(&e["fields"]), keys(&r["fields"]), "the same fields");
    for (field, messages) in e["fields"].as_object().into_iter().flatten() {
        assert_eq!(
            messages.as_array().map(Vec::len),
            r["fields"][field].as_array().map(Vec::len),
            "{field}: as many messages"
        );
    }
}

/// Whether `text` is written in Cyrillic (and so not left in English).
fn is_russian(text: &str) -> bool {
    text.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c))
}

/// Every message of an error body.
fn messages(json: &Value) -> Vec<String> {
    let error = &json["error"];
    let mut out = vec![error["message"].as_str().unwrap_or_default().to_owned()];
    for list in error["fields"]
        .as_object()
        .into_iter()
        .flat_map(|f| f.values())
    {
        for m in list.as_array().into_iter().flatten() {
            out.push(m.as_str().unwrap_or_default().to_owned());
        }
    }
    out
}

async fn both<S, B>(app: &S, request: impl Fn(Option<&str>) -> TestRequest) -> (Reply, Reply)
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let en = call(app, request(None)).await;
    let ru = call(app, request(Some(RU))).await;
    assert_language(&en, "en");
    assert_language(&ru, "ru");
    assert_same_shape(&en, &ru);
    for message in messages(&ru.json) {
        assert!(
            is_russian(&message),
            "not translated: {message:?} in {}",
            ru.json
        );
    }
    for message in messages(&en.json) {
        assert!(!is_russian(&message), "not English: {message:?}");
    }
    (en, ru)
}

async fn a_bad_lead_form_gets_russian_field_messages(backend: Backend) {
    let app = TestApp::new(backend);
    let app = app.service().await;
    let form = json!({"name": "   ", "phone": "не телефон", "email": "anna@", "consent": false,
        "message": "x".repeat(2001), "utm_source": "u".repeat(101)});
    let (en, ru) = both(&app, |language| lead(&form, language)).await;
    ru.assert_error(422, "validation_failed");
    assert_eq!(
        ru.json["error"]["message"],
        "некоторые поля заполнены неверно"
    );
    assert_eq!(
        ru.json["error"]["fields"],
        json!({
            "name": ["должно содержать от 1 до 100 символов"],
            "phone": ["некорректный номер телефона"],
            "email": ["некорректный адрес электронной почты"],
            "consent": ["должно быть true"],
            "message": ["должно содержать не больше 2000 символов"],
            "utm_source": ["должно содержать не больше 100 символов"],
        })
    );
    // English stays exactly what it was.
    assert_eq!(en.json["error"]["message"], "some fields are invalid");
    assert_eq!(
        en.json["error"]["fields"]["phone"],
        json!(["not a valid phone number"])
    );
    assert_eq!(
        en.json["error"]["fields"]["name"],
        json!(["must be 1 to 100 characters"])
    );
}

async fn missing_fields_references_and_body_errors_are_russian(backend: Backend) {
    let app = TestApp::new(backend);
    let app = app.service().await;
    let (_, ru) = both(&app, |language| lead(&json!({}), language)).await;
    assert_eq!(
        ru.json["error"]["fields"],
        json!({"name": ["обязательное поле"], "phone": ["обязательное поле"],
               "consent": ["обязательное поле"]})
    );

    let form = json!({"name": "Анна", "phone": "+7 916 123 45 67", "consent": true,
        "location_id": 999_999});
    let (_, ru) = both(&app, |language| lead(&form, language)).await;
    assert_eq!(
        ru.json["error"]["fields"],
        json!({"location_id": ["локация 999999 не существует"]})
    );
    let form = json!({"name": "Анна", "phone": "+7 916 123 45 67", "consent": true,
        "message": "a\u{0}b"});
    let (_, ru) = both(&app, |language| lead(&form, language)).await;
    assert_eq!(
        ru.json["error"]["fields"]["message"],
        json!(["не должно содержать управляющих символов"])
    );

    // 400s from the body extractor: wrong types, malformed JSON, another content type.
    let (_, ru) = both(&app, |language| {
        lead(
            &json!({"name": "Анна", "phone": "1", "consent": "yes"}),
            language,
        )
    })
    .await;
    ru.assert_error(400, "invalid_json");
    assert_eq!(
        ru.json["error"]["message"],
        "consent должно быть true или false"
    );
    let (_, ru) = both(&app, |language| {
        in_language(
            TestRequest::post()
                .uri("/api/v1/leads")
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"name\": "),
            language,
        )
    })
    .await;
    assert_eq!(
        ru.json["error"]["message"],
        "тело запроса — некорректный JSON"
    );
    let (_, ru) = both(&app, |language| {
        in_language(
            TestRequest::post()
                .uri("/api/v1/leads")
                .insert_header(("content-type", "text/plain"))
                .set_payload("name=Анна"),
            language,
        )
    })
    .await;
    assert_eq!(
        ru.json["error"]["message"],
        "тип содержимого должен быть application/json"
    );
    let (_, ru) = both(&app, |language| {
        lead(&json!({"name": "x".repeat(70 * 1024)}), language)
    })
    .await;
    ru.assert_error(413, "payload_too_large");
}

async fn status_errors_404_405_400_401_are_russian(backend: Backend) {
    let app = TestApp::new(backend);
    let app = app.service().await;
    let cases: [(&str, Request, u16, &str, &str); 7] = [
        (
            "unknown route",
            |l| get("/api/v1/nowhere", l),
            404,
            "not_found",
            "такого ресурса нет",
        ),
        (
            "missing location",
            |l| get("/api/v1/locations/999", l),
            404,
            "not_found",
            "локация 999 не найдена",
        ),
        (
            "missing trainer",
            |l| get("/api/v1/trainers/999", l),
            404,
            "not_found",
            "тренер 999 не найден",
        ),
        (
            "wrong method",
            |l| in_language(TestRequest::delete().uri("/api/v1/locations"), l),
            405,
            "method_not_allowed",
            "этот метод не разрешён для этого пути",
        ),
        (
            "malformed id",
            |l| get("/api/v1/locations/abc", l),
            400,
            "invalid_parameter",
            "должно быть положительным целым идентификатором",
        ),
        (
            "repeated parameter",
            |l| get("/api/v1/schedule?from=2026-01-01&from=2026-01-02", l),
            400,
            "invalid_parameter",
            "можно указать не больше одного раза",
        ),
        (
            "no admin key",
            |l| get("/api/v1/admin/leads", l),
            401,
            "unauthorized",
            "нужен действующий ключ API администратора",
        ),
    ];
    for (what, request, status, code, message) in cases {
        let (en, ru) = both(&app, request).await;
        ru.assert_error(status, code);
        en.assert_error(status, code);
        assert_eq!(ru.json["error"]["message"], message, "{what}");
    }
    // The other headers of an error stay: `Allow` on a 405, `WWW-Authenticate` on a 401.
    let r = call(
        &app,
        in_language(TestRequest::delete().uri("/api/v1/locations"), Some(RU)),
    )
    .await;
    assert!(r.header("allow").is_some_and(|a| a.contains("GET")));
    let r = call(&app, get("/api/v1/admin/leads", Some(RU))).await;
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    // A HEAD gets the headers of the GET's error.
    let r = call(
        &app,
        in_language(
            TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri("/api/v1/locations/999"),
            Some(RU),
        ),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_language(&r, "ru");
    // Schedule parameters: a range, a date.
    let (_, ru) = both(&app, |l| {
        get("/api/v1/schedule?from=2026-01-10&to=2026-01-01", l)
    })
    .await;
    assert_eq!(
        ru.json["error"]["message"],
        "`to` не должно быть раньше `from`"
    );
    let (_, ru) = both(&app, |l| get("/api/v1/schedule?from=tomorrow", l)).await;
    assert_eq!(ru.json["error"]["details"], json!({"parameter": "from"}));
}

async fn weights_choose_the_language_as_rfc_9110_says(backend: Backend) {
    let app = TestApp::new(backend);
    let app = app.service().await;
    let cases = [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("RU-ru", "ru"),
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en;q=0.5, ru;q=0.9", "ru"),
        ("en-US,en;q=0.9,ru;q=0.8", "en"),
        ("ru;q=0", "en"),
        ("ru;q=0, en;q=0.1", "en"),
        ("*", "en"),
        ("*;q=0.5, ru", "ru"),
        ("en;q=0, *", "ru"),
        ("ru;q=0, *", "en"),
        ("de, fr;q=0.9", "en"),
        ("de, ru;q=0.1", "ru"),
        ("ru;q=5", "en"),
        ("", "en"),
    ];
    for (header, language) in cases {
        let r = call(&app, get("/api/v1/locations/999", Some(header))).await;
        r.assert_error(404, "not_found");
        assert_language(&r, language);
        let message = r.json["error"]["message"].as_str().unwrap_or_default();
        let expected = if language == "ru" {
            "локация 999 не найдена"
        } else {
            "location 999 not found"
        };
        assert_eq!(message, expected, "Accept-Language: {header:?}");
    }
    // Two header lines are one list.
    let r = call(
        &app,
        TestRequest::get()
            .uri("/api/v1/locations/999")
            .append_header(("accept-language", "en;q=0.5"))
            .append_header(("accept-language", "ru;q=0.9")),
    )
    .await;
    assert_language(&r, "ru");
}

async fn cached_public_responses_never_cross_languages(backend: Backend) {
    let app = TestApp::with(backend, |s| s.public_cache_ttl = Duration::from_secs(60));
    let catalog = app.catalog();
    let app = app.service().await;
    let location = catalog.locations[0].id;
    // Successes do not depend on the language: one body, one ETag, no Content-Language.
    let uri = format!("/api/v1/locations/{location}");
    let ru = call(&app, get(&uri, Some(RU))).await;
    let en = call(&app, get(&uri, None)).await;
    assert_eq!((ru.status.as_u16(), en.status.as_u16()), (200, 200));
    assert_eq!(ru.body, en.body);
    assert_eq!(ru.header("etag"), en.header("etag"));
    assert_eq!(ru.header("content-language"), None);
    let etag = ru.header("etag").expect("etag").to_owned();
    let not_modified = call(
        &app,
        get(&uri, Some(RU)).insert_header(("if-none-match", etag.as_str())),
    )
    .await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("content-language"), None);

    // Errors of cacheable endpoints, asked for in turns: each in its own language.
    let missing = "/api/v1/locations/999999";
    let filtered = "/api/v1/schedule?location_id=999999";
    let malformed = "/api/v1/trainers?location_id=abc";
    for round in 0..2 {
        for uri in [missing, filtered, malformed] {
            for language in [Some(RU), None, Some("en;q=0.1, ru;q=0.2"), Some("en")] {
                let r = call(&app, get(uri, language)).await;
                assert!(r.status.is_client_error(), "{uri}: {}", r.status);
                let russian = matches!(language, Some(l) if l.contains("ru"));
                assert_language(&r, if russian { "ru" } else { "en" });
                let message = r.json["error"]["message"].as_str().unwrap_or_default();
                assert_eq!(
                    is_russian(message),
                    russian,
                    "round {round}, {uri}, {language:?}: {message}"
                );
            }
        }
    }
}

e2e_tests!(
    a_bad_lead_form_gets_russian_field_messages,
    missing_fields_references_and_body_errors_are_russian,
    status_errors_404_405_400_401_are_russian,
    weights_choose_the_language_as_rfc_9110_says,
    cached_public_responses_never_cross_languages,
);
