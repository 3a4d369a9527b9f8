use std::collections::BTreeSet;

use super::*;

/// The placeholder names of a template, each once.
fn placeholders(template: &'static str) -> BTreeSet<&'static str> {
    segments(template)
        .into_iter()
        .filter_map(|s| match s {
            Segment::Placeholder { name, .. } => Some(name),
            Segment::Text(_) => None,
        })
        .collect()
}

/// A value each placeholder may take, as the code writes it.
fn sample(name: &str) -> &'static str {
    match name {
        "field" => "location_id",
        "code" => "length",
        "role" => "manager",
        "values" => "new, lost",
        "name" => "\"anna\"",
        _ => "12",
    }
}

#[test]
fn every_key_is_in_both_catalogues_with_the_same_placeholders() {
    // Both catalogues are exhaustive matches over `Key`: a key missing from one does not
    // compile. What the compiler cannot see: the placeholders, and empty or stray text.
    for &key in Key::ALL {
        let (en, ru) = (Language::En.template(key), Language::Ru.template(key));
        assert!(!en.trim().is_empty() && !ru.trim().is_empty(), "{key:?}");
        assert_eq!(
            placeholders(en),
            placeholders(ru),
            "{key:?}: {en:?} / {ru:?}"
        );
        for name in placeholders(en) {
            assert!(
                PLACEHOLDERS.contains(&name),
                "{key:?}: unknown placeholder {name}"
            );
        }
        for segment in segments(ru) {
            if let Segment::Text(text) = segment {
                assert!(
                    !text.contains(['{', '}']),
                    "{key:?}: unbalanced braces in {ru:?}"
                );
            }
        }
        assert!(
            segments(en)
                .iter()
                .all(|s| !matches!(s, Segment::Placeholder { forms: Some(_), .. })),
            "{key:?}: plural forms are for the Russian catalogue"
        );
        for segment in segments(ru) {
            if let Segment::Placeholder { name, forms } = segment {
                assert!(
                    !ru.contains(&format!("{{{name}:")) || forms.is_some(),
                    "{key:?}: plural forms need three words: {ru:?}"
                );
            }
        }
        assert!(
            ru.chars()
                .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c))),
            "{key:?}: the Russian text is not Russian: {ru:?}"
        );
    }
}

#[test]
fn no_two_keys_share_an_english_template() {
    let mut seen = BTreeSet::new();
    for &key in Key::ALL {
        assert!(
            seen.insert(Language::En.template(key)),
            "{key:?} is a duplicate"
        );
    }
}

#[test]
fn every_english_template_is_found_again_from_a_message_it_renders() {
    for &key in Key::ALL {
        let template = Language::En.template(key);
        let values: BTreeMap<&str, &str> = placeholders(template)
            .into_iter()
            .map(|name| (name, sample(name)))
            .collect();
        let message = render(Language::En, key, &values);
        let (found, bound) = key_of(&message).unwrap_or_else(|| panic!("{message:?}"));
        assert_eq!(found, key, "{message:?}");
        assert_eq!(bound, values, "{message:?}");
    }
}

#[test]
fn messages_are_translated_with_their_values() {
    let cases = [
        ("not a valid phone number", "некорректный номер телефона"),
        ("is required", "обязательное поле"),
        ("location 999 not found", "локация 999 не найдена"),
        (
            "must be 1 to 100 characters",
            "должно содержать от 1 до 100 символов",
        ),
        (
            "must be at most 254 characters",
            "должно содержать не больше 254 символов",
        ),
        (
            "must be at most 2001 characters",
            "должно содержать не больше 2001 символа",
        ),
        (
            "must be one of new, lost",
            "должно быть одним из значений: new, lost",
        ),
        (
            "location_id must be an integer",
            "location_id должно быть целым числом",
        ),
        ("unknown field zzz", "неизвестное поле zzz"),
        (
            "the body is larger than 65536 bytes",
            "тело запроса больше 65536 байт",
        ),
        (
            "the range is longer than 62 days",
            "диапазон длиннее 62 дней",
        ),
        (
            "must be at most 31 days after `from`",
            "должно быть не позже чем через 31 день после `from`",
        ),
        (
            "the manager key \"anna\" may use only the leads endpoints",
            "ключ \"anna\" с ролью manager может обращаться только к заявкам",
        ),
        (
            "membership plan 3 belongs to location 2, not 1",
            "абонемент 3 относится к локации 2, а не 1",
        ),
    ];
    for (en, ru) in cases {
        assert_eq!(translate(en, Language::Ru), ru, "{en}");
        assert_eq!(translate(en, Language::En), en);
    }
    // A message nobody translated stays English rather than being lost.
    assert_eq!(translate("something new", Language::Ru), "something new");
}

#[test]
fn plural_forms_follow_the_russian_rules() {
    let forms = ["символ", "символа", "символов"];
    for (n, form) in [
        ("1", "символ"),
        ("21", "символ"),
        ("2", "символа"),
        ("34", "символа"),
        ("11", "символов"),
        ("12", "символов"),
        ("14", "символов"),
        ("111", "символов"),
        ("5", "символов"),
        ("0", "символов"),
        ("100", "символов"),
    ] {
        assert_eq!(plural(n, forms), form, "{n}");
    }
}

#[test]
fn accept_language_is_negotiated_as_rfc_9110_says() {
    use Language::{En, Ru};
    let cases = [
        ("", En),
        ("ru", Ru),
        ("RU", Ru),
        ("ru-RU", Ru),
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", Ru),
        ("en-US,en;q=0.9,ru;q=0.8", En),
        ("en;q=0.5, ru;q=0.9", Ru),
        ("en;q=0.5,ru;q=0.5", En),
        ("ru;q=0.5,en;q=0.5", Ru),
        ("ru;q=0", En),
        ("ru;q=0.000", En),
        ("ru;q=0.001", Ru),
        ("ru;q=1.000", Ru),
        ("*", En),
        ("*;q=0.5, ru", Ru),
        ("en;q=0, *", Ru),
        ("en;q=0, *;q=0", En),
        ("ru;q=0, *", En),
        ("de, fr;q=0.9", En),
        ("de, ru;q=0.1", Ru),
        ("fr, *;q=0.1", En),
        ("ru;q=2", En),
        ("ru;q=abc", En),
        ("ru;q=0.5000", En),
        ("ru;q=", En),
        (" ru ; q = 0.8 ", Ru),
        ("ru;level=1", Ru),
        ("rus", En),
        ("ru-", Ru),
        (",,,ru", Ru),
        ("ru;q=0.2, ru-RU;q=0.8, en;q=0.5", Ru),
        ("ru-RU;q=0, ru;q=0.8, en;q=0.5", Ru),
    ];
    for (header, language) in cases {
        assert_eq!(Language::negotiate(header), language, "{header:?}");
    }
}

#[test]
fn several_accept_language_lines_are_one_list() {
    let mut headers = HeaderMap::new();
    let name = header::ACCEPT_LANGUAGE;
    headers.append(name.clone(), "en;q=0.5".parse().expect("value"));
    headers.append(name, "ru;q=0.9".parse().expect("value"));
    assert_eq!(Language::of_headers(&headers), Language::Ru);
    assert_eq!(Language::of_headers(&HeaderMap::new()), Language::En);
}

#[test]
fn every_error_for_a_status_has_a_russian_message() {
    for status in 400..600 {
        let Ok(status) = actix_web::http::StatusCode::from_u16(status) else {
            continue;
        };
        let error = crate::ApiError::for_status(status);
        assert!(
            key_of(&error.message).is_some(),
            "{status}: {}",
            error.message
        );
    }
}

/// The string literals of `source` outside its `#[cfg(test)] mod tests`.
fn literals(source: &str) -> Vec<String> {
    let source = source
        .find("#[cfg(test)]\nmod tests")
        .map_or(source, |i| &source[..i]);
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
        if rest.starts_with("//") {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if rest.starts_with("r\"") || rest.starts_with("r#") {
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            let start = i + 2 + hashes;
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let tail: String = chars[start.min(chars.len())..].iter().collect();
            let end = tail.find(&close).unwrap_or(tail.len());
            out.push(tail[..end].to_owned());
            i = start + tail[..end].chars().count() + close.chars().count();
        } else if chars[i] == '"' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                    match chars.get(i) {
                        Some('\n') => {
                            // A line continuation: the next line's leading blanks go too.
                            while chars.get(i + 1).is_some_and(|c| c.is_whitespace()) {
                                i += 1;
                            }
                        }
                        Some('n') => text.push('\n'),
                        Some(c) => text.push(*c),
                        None => {}
                    }
                } else {
                    text.push(chars[i]);
                }
                i += 1;
            }
            out.push(text);
            i += 1;
        } else if chars[i] == '\'' {
            // A char literal ('"', '\''), or a lifetime (left as it is).
            if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else if chars.get(i + 1) == Some(&'\\') {
                i += chars[i + 1..]
                    .iter()
                    .skip(2)
                    .position(|c| *c == '\'')
                    .map_or(1, |p| p + 4);
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// A format string with every `{…}` argument replaced by a number (a field message's
/// arguments are limits and lists of wire names).
fn with_sample_arguments(format: &str) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push('1');
        rest = &rest[close.min(rest.len())..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_field_message_in_the_sources_has_a_key() {
    // Field and parameter messages start with "must", "is", "not", "each": those in the
    // code of the crates that write them (outside their tests) must all be translatable.
    // A new message fails here until the catalogues have it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let mut dirs: Vec<_> = ["web/src", "services/src", "domain/src"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("i18n/tests.rs")
                && !path.to_string_lossy().contains("/i18n/")
            {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "found the sources: {files:?}");
    let mut checked = 0;
    for file in files {
        let source = std::fs::read_to_string(&file).expect("source");
        for literal in literals(&source) {
            let is_message = ["must ", "is ", "not a ", "each must "]
                .iter()
                .any(|p| literal.starts_with(p))
                && !literal.contains('\n');
            if !is_message {
                continue;
            }
            let message = with_sample_arguments(&literal);
            checked += 1;
            assert!(
                key_of(&message).is_some(),
                "{}: {literal:?} has no key in the catalogues (crates/web/src/i18n)",
                file.display()
            );
        }
    }
    assert!(checked > 40, "only {checked} messages found");
}
