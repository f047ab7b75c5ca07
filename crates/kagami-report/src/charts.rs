//! Inline SVG charts for the HTML report: the score gauge and the severity
//! bars. Plain strings, no script, so the file stays self-contained and prints.

use std::fmt::Write as _;

use kagami_core::Severity;

use crate::view::CountView;

/// Colour of a severity (also used by the stylesheet).
pub fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#b3122e",
        Severity::High => "#e0601b",
        Severity::Medium => "#d9a400",
        Severity::Low => "#3f7fbf",
        Severity::Info => "#888888",
    }
}

/// Point on the gauge's arc for a score 0–100 (0 at the left, 100 at the right).
fn arc_point(score: f64, radius: f64) -> (f64, f64) {
    let angle = std::f64::consts::PI * (1.0 - score.clamp(0.0, 100.0) / 100.0);
    (100.0 + radius * angle.cos(), 100.0 - radius * angle.sin())
}

/// A half-circle gauge: coloured bands, a mark at the standard, the needle at
/// the score and the number in the middle.
pub fn gauge(value: u8, standard: u8, label: &str) -> String {
    let mut svg = String::from(
        r#"<svg class="gauge" viewBox="0 0 200 120" role="img" xmlns="http://www.w3.org/2000/svg">"#,
    );
    let bands = [
        (0.0, 30.0, "#2e8b57"),
        (30.0, 50.0, "#8fbc3f"),
        (50.0, 70.0, "#d9a400"),
        (70.0, 90.0, "#e0601b"),
        (90.0, 100.0, "#b3122e"),
    ];
    for (from, to, colour) in bands {
        let (x1, y1) = arc_point(from, 80.0);
        let (x2, y2) = arc_point(to, 80.0);
        let _ = write!(
            svg,
            r#"<path d="M{x1:.1} {y1:.1} A80 80 0 0 1 {x2:.1} {y2:.1}" stroke="{colour}" stroke-width="18" fill="none"/>"#
        );
    }
    let (sx1, sy1) = arc_point(f64::from(standard), 66.0);
    let (sx2, sy2) = arc_point(f64::from(standard), 96.0);
    let _ = write!(
        svg,
        r##"<line x1="{sx1:.1}" y1="{sy1:.1}" x2="{sx2:.1}" y2="{sy2:.1}" stroke="#222" stroke-width="2" stroke-dasharray="3 2"/>"##
    );
    let (nx, ny) = arc_point(f64::from(value), 72.0);
    let _ = write!(
        svg,
        r##"<line x1="100" y1="100" x2="{nx:.1}" y2="{ny:.1}" stroke="#222" stroke-width="4" stroke-linecap="round"/><circle cx="100" cy="100" r="6" fill="#222"/>"##
    );
    let _ = write!(
        svg,
        r##"<text x="100" y="86" text-anchor="middle" font-size="30" font-weight="bold" fill="#222">{value}</text><text x="100" y="117" text-anchor="middle" font-size="11" fill="#444">{}</text></svg>"##,
        escape(label)
    );
    svg
}

/// Horizontal bars, one per severity, scaled to the largest count.
pub fn severity_bars(counts: &[CountView]) -> String {
    let max = counts.iter().map(|c| c.count).max().unwrap_or(0).max(1);
    let height = 26 * counts.len();
    let mut svg = format!(
        r#"<svg class="bars" viewBox="0 0 240 {height}" role="img" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (row, count) in counts.iter().enumerate() {
        let y = row * 26;
        let width = 150.0 * count.count as f64 / max as f64;
        let _ = write!(
            svg,
            r##"<text x="0" y="{ty}" font-size="12" fill="#222">{label}</text><rect x="62" y="{y2}" width="{width:.1}" height="16" rx="2" fill="{colour}"/><text x="{tx:.1}" y="{ty}" font-size="12" font-weight="bold" fill="#222">{n}</text>"##,
            ty = y + 15,
            y2 = y + 3,
            label = escape(&count.label),
            colour = severity_colour(count.severity),
            tx = 68.0 + width,
            n = count.count
        );
    }
    svg.push_str("</svg>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
