//! The page shell: head, the navigation of a signed-in key, sign-out.

use cohai_domain::Role;
use maud::{DOCTYPE, Markup, html};

use super::session::{CSRF_FIELD, Staff};

/// The console's sections, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// The lead inbox and cards.
    Leads,
    /// The week timetable.
    Timetable,
    /// The funnel.
    Stats,
}

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        meta name="robots" content="noindex, nofollow";
        title { (title) " · Cohai Stretching" }
        link rel="icon" href="/admin/static/icon.svg" type="image/svg+xml";
        link rel="stylesheet" href="/admin/static/console.css";
    }
}

/// The hidden CSRF field every state-changing form carries.
pub(super) fn csrf_field(staff: &Staff) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(staff.csrf); }
}

/// A page of a signed-in key.
pub(super) fn page(staff: &Staff, section: Section, title: &str, body: Markup) -> Markup {
    let link = |target: Section, href: &str, label: &str| {
        html! {
            @if target == section {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="ru" {
            head { (head(title)) }
            body {
                a.skip href="#main" { "К содержимому" }
                header.top {
                    nav aria-label="Разделы" {
                        span.brand { "Cohai" }
                        (link(Section::Leads, "/admin/leads", "Лиды"))
                        @if staff.principal.role == Role::Admin {
                            (link(Section::Timetable, "/admin/timetable", "Расписание"))
                        }
                        (link(Section::Stats, "/admin/stats", "Статистика"))
                    }
                    form.sign-out method="post" action="/admin/logout" {
                        span.who title="Ключ, под которым вы вошли" { (staff.principal.name) }
                        (csrf_field(staff))
                        button type="submit" { "Выйти" }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A page without navigation: sign-in and errors.
pub(super) fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ru" {
            head { (head(title)) }
            body {
                main #main .narrow {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}
