//! Horizontal bar charts as inline SVG, drawn by the server (no script, no library): each bar
//! is labelled in text, and the chart has a title for screen readers.

use maud::{Markup, html};

/// One bar: a label, a total and, optionally, the part of it that converted.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bar {
    /// What the bar counts.
    pub label: String,
    /// Its length.
    pub value: i64,
    /// The highlighted part of it (converted leads), drawn over the bar.
    pub part: Option<i64>,
}

const WIDTH: i64 = 640;
const LABEL_WIDTH: i64 = 180;
const VALUE_WIDTH: i64 = 120;
const ROW: i64 = 30;
const BAR: i64 = 20;
/// Longest label drawn in full; longer ones are cut (the full text is the bar's tooltip).
const LABEL_CHARS: usize = 24;

/// `label` cut to [`LABEL_CHARS`] characters.
fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_owned();
    }
    let cut: String = label.chars().take(LABEL_CHARS - 1).collect();
    format!("{cut}…")
}

/// The bar's text at its end: `12`, or `3 из 12 (25 %)` with a part.
fn value_text(bar: &Bar) -> String {
    match bar.part {
        None => bar.value.to_string(),
        Some(part) if bar.value > 0 => {
            let share = part as f64 * 100.0 / bar.value as f64;
            format!("{part} из {} ({share:.0} %)", bar.value)
        }
        Some(part) => format!("{part} из {}", bar.value),
    }
}

/// A chart of `bars` titled `title` (its id is `id`).
pub(super) fn bars(id: &str, title: &str, bars: &[Bar]) -> Markup {
    let height = ROW * bars.len().max(1) as i64 + 10;
    let longest = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let area = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let length = |n: i64| n * area / longest;
    html! {
        svg.chart role="img" aria-labelledby=(id) viewBox={ "0 0 " (WIDTH) " " (height) }
            width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" {
            title #(id) { (title) }
            @if bars.is_empty() {
                text x="0" y="20" class="chart-label" { "Нет данных" }
            }
            @for (i, bar) in bars.iter().enumerate() {
                @let y = ROW * i as i64 + 5;
                g {
                    title { (bar.label) ": " (value_text(bar)) }
                    text.chart-label x=(LABEL_WIDTH - 8) y=(y + BAR - 5) text-anchor="end" { (short(&bar.label)) }
                    rect.chart-bar x=(LABEL_WIDTH) y=(y) width=(length(bar.value).max(1)) height=(BAR) rx="3" {}
                    @if let Some(part) = bar.part {
                        rect.chart-part x=(LABEL_WIDTH) y=(y) width=(length(part)) height=(BAR) rx="3" {}
                    }
                    text.chart-value x=(LABEL_WIDTH + length(bar.value).max(1) + 6) y=(y + BAR - 5) { (value_text(bar)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_drawn_to_scale_with_their_numbers_in_text() {
        let svg = bars(
            "c",
            "Воронка",
            &[
                Bar {
                    label: "Новый".into(),
                    value: 10,
                    part: None,
                },
                Bar {
                    label: "Центр".into(),
                    value: 5,
                    part: Some(1),
                },
            ],
        )
        .into_string();
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r#"<title id="c">Воронка</title>"#));
        // The longest bar fills the bar area (640 − 180 − 120 = 340), the other is half of it.
        assert!(svg.contains(r#"width="340""#), "{svg}");
        assert!(svg.contains(r#"width="170""#), "{svg}");
        assert!(svg.contains("1 из 5 (20 %)"));
    }

    #[test]
    fn labels_are_escaped_and_long_ones_cut() {
        let svg = bars(
            "c",
            "t",
            &[Bar {
                label: "<script>alert(1)</script> and a very long campaign".into(),
                value: 1,
                part: None,
            }],
        )
        .into_string();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains('…'));
    }

    #[test]
    fn an_empty_chart_says_so() {
        assert!(bars("c", "t", &[]).into_string().contains("Нет данных"));
    }
}
