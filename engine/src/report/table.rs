//! Markdown tables with aligned columns: readable in a terminal and pasteable into a report.

/// Renders `rows` under `headers`; columns whose cells all parse as numbers are right-aligned.
pub fn markdown(headers: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([headers[c].chars().count(), 3])
                .max()
                .unwrap_or(3)
        })
        .collect();
    let numeric: Vec<bool> = (0..headers.len())
        .map(|c| !rows.is_empty() && rows.iter().all(|r| is_number(&r[c])))
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if numeric[c] {
                    format!("{s:>w$}", w = widths[c])
                } else {
                    format!("{s:<w$}", w = widths[c])
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    let rule: Vec<String> = widths
        .iter()
        .zip(&numeric)
        .map(|(&w, &n)| {
            if n {
                format!("{}:", "-".repeat(w - 1))
            } else {
                "-".repeat(w)
            }
        })
        .collect();
    out += &format!("| {} |\n", rule.join(" | "));
    for r in rows {
        out += &line(r.clone());
    }
    out
}

fn is_number(s: &str) -> bool {
    s == "-"
        || s.trim_end_matches('%')
            .replace(',', "")
            .parse::<f64>()
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_text_left_and_numbers_right() {
        let t = markdown(
            &["run", "L0"],
            &[
                vec!["a".into(), "12.5".into()],
                vec!["bbbb".into(), "3".into()],
            ],
        );
        assert_eq!(
            t,
            "| run  |   L0 |\n| ---- | ---: |\n| a    | 12.5 |\n| bbbb |    3 |\n"
        );
    }
}
