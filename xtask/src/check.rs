//! Drift detection between `specs/` and what `refresh` would write.
//!
//! CI runs `check` so a hand edit, a stale spec or a non-deterministic
//! generator fails loudly, with enough context to see what moved.

use std::collections::BTreeMap;
use std::path::Path;

const CONTEXT: usize = 3;

/// Compares each expected file with the one in `dir`; returns one readable
/// report per differing or missing file (empty when all match).
pub fn compare(dir: &Path, expected: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, want) in expected {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Err(_) => problems.push(format!("{}: missing", path.display())),
            Ok(have) if &have == want => {}
            Ok(have) => problems.push(format!(
                "{}: differs\n{}",
                path.display(),
                describe(want, &have)
            )),
        }
    }
    problems
}

/// First differing line with a few lines of context from both sides.
pub fn describe(want: &[u8], have: &[u8]) -> String {
    let want = String::from_utf8_lossy(want);
    let have = String::from_utf8_lossy(have);
    let w: Vec<&str> = want.split_inclusive('\n').collect();
    let h: Vec<&str> = have.split_inclusive('\n').collect();
    let first = w
        .iter()
        .zip(&h)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(h.len()));
    let differing = w.iter().zip(&h).filter(|(a, b)| a != b).count() + w.len().abs_diff(h.len());
    let mut out = format!(
        "  first difference at line {} ({} line(s) differ; expected {} lines, found {})\n",
        first + 1,
        differing,
        w.len(),
        h.len()
    );
    let start = first.saturating_sub(CONTEXT);
    for (label, lines) in [("expected", &w), ("found", &h)] {
        out.push_str(&format!("  --- {label}:\n"));
        for (i, line) in lines.iter().enumerate().skip(start).take(2 * CONTEXT + 1) {
            let mark = if i == first { '>' } else { ' ' };
            out.push_str(&format!(
                "  {mark}{:>6} | {}\n",
                i + 1,
                line.trim_end_matches(['\n', '\r'])
            ));
        }
        if first >= lines.len() {
            out.push_str("  >       | <end of file>\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_first_difference() {
        let d = describe(b"a\nb\nc\n", b"a\nx\nc\n");
        assert!(d.contains("line 2"), "{d}");
        assert!(d.contains(">     2 | b"), "{d}");
        assert!(d.contains(">     2 | x"), "{d}");
        let d = describe(b"a\nb\n", b"a\n");
        assert!(d.contains("line 2") && d.contains("<end of file>"), "{d}");
    }
}
