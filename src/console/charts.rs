//! Small line charts drawn on the server as inline SVG (no script, no external library).

use maud::{html, Markup};

/// One line of a chart.
pub struct Series<'a> {
    /// Legend text.
    pub label: &'a str,
    /// CSS class giving its colour (`s0`..`s4`).
    pub class: &'a str,
    /// One value per minute, oldest first; `None` is a gap.
    pub values: Vec<Option<f64>>,
}

const W: f64 = 600.0;
const H: f64 = 140.0;
const PAD: f64 = 4.0;

fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|v| *v >= max).unwrap_or(10.0 * mag)
}

fn fmt(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A chart of `series` over the last hour with a summary for screen readers.
pub fn line_chart(id: &str, title: &str, unit: &str, series: &[Series<'_>]) -> Markup {
    let max = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, b| a.max(*b));
    let top = nice_max(max);
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0).max(2);
    let x = |i: usize| PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64;
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * (v / top);
    let summary: Vec<String> = series
        .iter()
        .map(|s| {
            let now = s.values.iter().rev().flatten().next().copied().unwrap_or(0.0);
            let peak = s.values.iter().flatten().fold(0.0f64, |a, b| a.max(*b));
            format!("{}: now {} {unit}, peak {} {unit}", s.label, fmt(now), fmt(peak))
        })
        .collect();
    html! {
        figure.chart id=(id) {
            figcaption { strong { (title) } " " span.muted { "(last 60 minutes, this instance)" } }
            svg viewBox={ "0 0 " (W) " " (H) } role="img" aria-label={ (title) ". " (summary.join("; ")) } preserveAspectRatio="none" {
                line.axis x1=(PAD) y1=(H - PAD) x2=(W - PAD) y2=(H - PAD) {}
                line.grid x1=(PAD) y1=(y(top / 2.0)) x2=(W - PAD) y2=(y(top / 2.0)) {}
                @for s in series {
                    @for run in runs(&s.values) {
                        polyline class=(s.class) points=(run.iter().map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v))).collect::<Vec<_>>().join(" ")) {}
                    }
                }
            }
            div.chart-scale { span { "0" } span { (fmt(top)) " " (unit) } }
            ul.legend {
                @for (s, text) in series.iter().zip(&summary) {
                    li { span class={ "swatch " (s.class) } aria-hidden="true" {} (text) }
                }
            }
        }
    }
}

/// Consecutive known points, so gaps are not drawn as lines; a lone point becomes a short dash.
fn runs(values: &[Option<f64>]) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut cur: Vec<(usize, f64)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => cur.push((i, *v)),
            None if !cur.is_empty() => out.push(std::mem::take(&mut cur)),
            None => {}
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    for r in &mut out {
        if r.len() == 1 {
            let (i, v) = r[0];
            r.insert(0, (i.saturating_sub(1), v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_round_and_gaps_split_lines() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.2), 5.0);
        assert_eq!(nice_max(120.0), 200.0);
        let r = runs(&[Some(1.0), None, Some(2.0), Some(3.0)]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1], vec![(2, 2.0), (3, 3.0)]);
        let svg = line_chart(
            "c",
            "Receipts",
            "/s",
            &[Series { label: "ok", class: "s0", values: vec![Some(1.0), Some(2.0)] }],
        )
        .into_string();
        assert!(svg.contains("polyline") && svg.contains("peak 2 /s"), "{svg}");
    }
}
