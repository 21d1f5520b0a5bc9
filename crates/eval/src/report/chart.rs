//! Inline SVG charts for the HTML report: grouped bars and lines, drawn as plain SVG elements
//! (no script, no fonts or styles fetched), sized by a `viewBox` so they scale with the page.

use std::fmt::Write as _;

use super::esc;

/// Okabe–Ito colours: distinguishable with every common colour-vision deficiency.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
];

/// One named series of values, one per category (`None`: not measured).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

const W: f64 = 760.0;
const H: f64 = 300.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 58.0;

/// A grouped bar chart: one group per category, one bar per series. `references` (same shape
/// as `series`, `None` where there is none) are drawn as dark ticks over the matching bars.
pub fn bars(
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[Series],
    references: &[Series],
    y_max: Option<f64>,
) -> String {
    let top = y_max.unwrap_or_else(|| {
        let all = series
            .iter()
            .chain(references)
            .flat_map(|s| s.values.iter().flatten());
        nice(all.copied().fold(0.0, f64::max))
    });
    let mut svg = frame(title, y_label, top);
    let plot_w = W - LEFT - RIGHT;
    let group = plot_w / categories.len().max(1) as f64;
    let bar = (group * 0.8) / series.len().max(1) as f64;
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v / top).clamp(0.0, 1.0));
    for (c, category) in categories.iter().enumerate() {
        let x0 = LEFT + group * c as f64 + group * 0.1;
        for (s, serie) in series.iter().enumerate() {
            let x = x0 + bar * s as f64;
            let color = PALETTE[s % PALETTE.len()];
            if let Some(v) = serie.values.get(c).copied().flatten() {
                let _ = write!(
                    svg,
                    r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} · {}: {v:.2}</title></rect>"#,
                    y(v),
                    (bar - 2.0).max(1.0),
                    (y(0.0) - y(v)).max(0.0),
                    esc(&serie.name),
                    esc(category),
                );
                if bar >= 18.0 {
                    let _ = write!(
                        svg,
                        r#"<text class="value" x="{:.1}" y="{:.1}">{}</text>"#,
                        x + (bar - 2.0) / 2.0,
                        y(v) - 3.0,
                        short(v)
                    );
                }
            }
            if let Some(r) = references
                .get(s)
                .and_then(|r| r.values.get(c).copied().flatten())
            {
                let _ = write!(
                    svg,
                    r#"<line class="reference" x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}"><title>{}: {r:.2}</title></line>"#,
                    x - 1.0,
                    x + bar - 1.0,
                    y(r),
                    y(r),
                    esc(&references[s].name),
                );
            }
        }
        let _ = write!(
            svg,
            r#"<text class="category" x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT + group * (c as f64 + 0.5),
            H - BOTTOM + 16.0,
            esc(category)
        );
    }
    let mut names: Vec<(String, &str, bool)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), PALETTE[i % PALETTE.len()], false))
        .collect();
    if let Some(r) = references
        .iter()
        .find(|r| r.values.iter().any(Option::is_some))
    {
        names.push((r.name.clone(), "#222", true));
    }
    legend(&mut svg, &names);
    svg.push_str("</svg>");
    svg
}

/// A line chart over integer x values (the last one meaning "this many or more"): one line per
/// series of `(x, answers, y)` points, each point labelled with its number of answers.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    xs: &[u64],
    series: &[(String, crate::summary::Curve)],
) -> String {
    let top = 100.0;
    let mut svg = frame(title, y_label, top);
    let plot_w = W - LEFT - RIGHT;
    let step = plot_w / xs.len().max(1) as f64;
    let x = |v: u64| {
        let i = xs.iter().position(|&x| x == v).unwrap_or(0);
        LEFT + step * (i as f64 + 0.5)
    };
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v / top).clamp(0.0, 1.0));
    for (i, value) in xs.iter().enumerate() {
        let label = if i + 1 == xs.len() && xs.len() > 1 {
            format!("{value}+")
        } else {
            value.to_string()
        };
        let _ = write!(
            svg,
            r#"<text class="category" x="{:.1}" y="{:.1}">{label}</text>"#,
            x(*value),
            H - BOTTOM + 16.0
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}">{}</text>"#,
        LEFT + plot_w / 2.0,
        H - BOTTOM + 32.0,
        esc(x_label)
    );
    for (s, (name, points)) in series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(px, _, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        if path.len() > 1 {
            let _ = write!(
                svg,
                r#"<polyline class="line" points="{}" stroke="{color}"/>"#,
                path.join(" ")
            );
        }
        for &(px, n, py) in points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{:.1}" fill="{color}"><title>{}: {px} searches, {n} answers, {py:.2}</title></circle>"#,
                x(px),
                y(py),
                3.0 + (n as f64).sqrt().min(6.0),
                esc(name)
            );
        }
    }
    let names: Vec<(String, &str, bool)> = series
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.clone(), PALETTE[i % PALETTE.len()], false))
        .collect();
    legend(&mut svg, &names);
    svg.push_str("</svg>");
    svg
}

/// The opening tag, title, y axis with gridlines.
fn frame(title: &str, y_label: &str, top: f64) -> String {
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}"><text class="title" x="{LEFT}" y="16">{t}</text>"#,
        t = esc(title)
    );
    for i in 0..=4 {
        let v = top * i as f64 / 4.0;
        let y = TOP + (H - TOP - BOTTOM) * (1.0 - i as f64 / 4.0);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            short(v)
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis-label" transform="translate(12 {:.1}) rotate(-90)">{}</text>"#,
        TOP + (H - TOP - BOTTOM) / 2.0,
        esc(y_label)
    );
    svg
}

/// A row of legend entries at the bottom.
fn legend(svg: &mut String, names: &[(String, &str, bool)]) {
    let mut x = LEFT;
    let y = H - 12.0;
    for (name, color, tick) in names {
        if *tick {
            let _ = write!(
                svg,
                r#"<line class="reference" x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/>"#,
                x + 12.0,
                y - 4.0,
                y - 4.0
            );
        } else {
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="12" height="10" fill="{color}"/>"#,
                y - 9.0
            );
        }
        let _ = write!(
            svg,
            r#"<text class="legend" x="{:.1}" y="{y:.1}">{}</text>"#,
            x + 16.0,
            esc(name)
        );
        x += 28.0 + 6.5 * name.chars().count() as f64;
    }
}

/// A round axis maximum at or above `v`.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&m| m >= v)
        .unwrap_or(10.0 * magnitude)
}

fn short(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v < 10.0 {
        format!("{v:.2}").trim_end_matches('0').to_string()
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_draw_one_rect_per_measured_value_and_ticks_for_references() {
        let svg = bars(
            "Recall",
            "×100",
            &["HotpotQA".to_string(), "A&B".to_string()],
            &[
                Series {
                    name: "RAG-PE".into(),
                    values: vec![Some(12.5), None],
                },
                Series {
                    name: "Agent-PE".into(),
                    values: vec![Some(30.0), Some(1.0)],
                },
            ],
            &[Series {
                name: "paper".into(),
                values: vec![Some(43.55), None],
            }],
            Some(100.0),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="bar""#).count(), 3);
        assert_eq!(
            svg.matches(r#"<line class="reference" x1"#).count(),
            2,
            "one tick, one legend entry"
        );
        assert!(svg.contains("A&amp;B") && !svg.contains("A&B"));
        assert_eq!(nice(37.0), 50.0);
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(1.3), 2.0);
    }

    #[test]
    fn lines_label_the_last_x_as_open_ended() {
        let svg = lines(
            "By searches",
            "searches",
            "recall",
            &[0, 1, 2],
            &[("Agent-PE".into(), vec![(0, 3, 10.0), (2, 1, 50.0)])],
        );
        assert!(svg.contains(">2+</text>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("<polyline").count(), 1);
    }
}
