//! Leads as CSV for spreadsheets (API.md §3.1 `export.csv`).
//!
//! RFC 4180 by the `csv` crate (a cell with a comma, a quote or a line break is quoted, quotes
//! doubled), lines ending in CRLF, UTF-8 with a byte-order mark so that Excel reads Cyrillic
//! names right. The columns are the `Lead` fields in the order of the API's `Lead` (then the
//! v1.1 fields), named in the header row.
//!
//! **Formula guard.** A spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (and, in
//! some, a tab or a carriage return before one) as a formula, which lets whoever filled in the
//! website's form run one on the manager's machine. Every cell that begins with one of these
//! characters gets a `'` in front, which spreadsheets show as text. It applies to every cell, so
//! a phone cell reads `'+7…`: intended.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use cohai_domain::Lead;

/// The column names, in order.
pub const COLUMNS: [&str; 20] = [
    "id",
    "name",
    "phone",
    "email",
    "message",
    "location_id",
    "program_type_id",
    "class_session_id",
    "source",
    "status",
    "notes",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "created_at",
    "updated_at",
    "assignee",
    "next_contact_at",
    "lost_reason",
    "consent_at",
];

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = "\u{feff}".as_bytes();

/// Why CSV could not be written (only a bug can cause it: the output is memory).
#[derive(Debug, thiserror::Error)]
#[error("cannot write CSV: {0}")]
pub struct CsvError(String);

/// `cell` with the formula guard applied (see the module docs).
///
/// ```
/// use cohai_web::lead_csv::guard;
/// assert_eq!(guard("=1+1"), "'=1+1");
/// assert_eq!(guard("+79161234567"), "'+79161234567");
/// assert_eq!(guard("Анна"), "Анна");
/// ```
pub fn guard(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// An instant as the JSON API writes it: RFC 3339 in UTC with `Z`.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A lead's cells in [`COLUMNS`] order, before the guard (a missing value is an empty cell).
fn cells(lead: &Lead) -> [String; 20] {
    [
        lead.id.to_string(),
        lead.name.clone(),
        lead.phone.clone(),
        optional(lead.email.as_deref()),
        optional(lead.message.as_deref()),
        optional(lead.location_id),
        optional(lead.program_type_id),
        optional(lead.class_session_id),
        lead.source.to_string(),
        lead.status.to_string(),
        optional(lead.notes.as_deref()),
        optional(lead.utm_source.as_deref()),
        optional(lead.utm_medium.as_deref()),
        optional(lead.utm_campaign.as_deref()),
        instant(lead.created_at),
        instant(lead.updated_at),
        optional(lead.assignee.as_deref()),
        optional(lead.next_contact_at.map(instant)),
        optional(lead.lost_reason.as_deref()),
        optional(lead.consent_at.map(instant)),
    ]
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn finish(writer: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, CsvError> {
    writer
        .into_inner()
        .map_err(|e| CsvError(e.error().to_string()))
}

/// The start of the file: the byte-order mark and the header row.
pub fn header() -> Result<Vec<u8>, CsvError> {
    let mut w = writer();
    w.write_record(COLUMNS)
        .map_err(|e| CsvError(e.to_string()))?;
    let mut out = BOM.to_vec();
    out.extend(finish(w)?);
    Ok(out)
}

/// The rows of `leads`, guarded.
pub fn rows(leads: &[Lead]) -> Result<Vec<u8>, CsvError> {
    let mut w = writer();
    for lead in leads {
        let cells = cells(lead);
        w.write_record(cells.iter().map(|c| guard(c).into_owned()))
            .map_err(|e| CsvError(e.to_string()))?;
    }
    finish(w)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use cohai_domain::{LeadSource, LeadStatus};

    use super::*;

    fn lead() -> Lead {
        let at = DateTime::parse_from_rfc3339("2026-12-01T09:00:00.25Z")
            .expect("instant")
            .to_utc();
        Lead {
            id: 7,
            name: "Анна, \"Аня\"\nПетрова".into(),
            phone: "+79161234567".into(),
            email: None,
            message: Some("-1 @home\tтабы".into()),
            location_id: Some(2),
            program_type_id: None,
            class_session_id: None,
            source: LeadSource::Website,
            status: LeadStatus::New,
            notes: Some("=HYPERLINK(\"x\")".into()),
            utm_source: Some("\ttab".into()),
            utm_medium: Some("\rcr".into()),
            utm_campaign: Some("@camp".into()),
            created_at: at,
            updated_at: at,
            assignee: Some("admin".into()),
            next_contact_at: None,
            lost_reason: None,
            consent_at: Some(at),
            version: 1,
        }
    }

    #[test]
    fn columns_are_the_lead_fields_and_cells_read_as_its_json() {
        let lead = lead();
        let json = serde_json::to_value(&lead).expect("json");
        let object = json.as_object().expect("object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut columns = COLUMNS.to_vec();
        keys.sort_unstable();
        columns.sort_unstable();
        assert_eq!(keys, columns, "every field, once");
        for (column, cell) in COLUMNS.iter().zip(cells(&lead)) {
            let expected = match &object[*column] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell, expected, "{column}");
        }
    }

    #[test]
    fn rows_are_quoted_guarded_and_end_in_crlf() {
        let out = String::from_utf8(rows(&[lead()]).expect("rows")).expect("utf-8");
        assert!(out.ends_with("\r\n"), "{out:?}");
        assert!(
            out.starts_with("7,\"Анна, \"\"Аня\"\"\nПетрова\",'+79161234567,,"),
            "{out:?}"
        );
        for guarded in [
            "'-1 @home\tтабы",
            "\"'=HYPERLINK(\"\"x\"\")\"",
            "'\ttab",
            "\"'\rcr\"",
            "'@camp",
        ] {
            assert!(out.contains(guarded), "{guarded:?} in {out:?}");
        }
        assert!(out.contains(",2026-12-01T09:00:00.250Z,"), "{out:?}");
    }

    #[test]
    fn the_header_starts_with_the_byte_order_mark() {
        let head = header().expect("header");
        assert!(head.starts_with(BOM));
        assert_eq!(
            std::str::from_utf8(&head[BOM.len()..]).expect("utf-8"),
            format!("{}\r\n", COLUMNS.join(","))
        );
    }
}
