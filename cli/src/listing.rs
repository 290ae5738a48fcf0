//! `--format` for listings: NDJSON (the default when piped), one JSON
//! array, or an aligned table (the default on a terminal). Commands hand
//! over records as JSON lines, so their code is the same for every format.

use crate::output::{file_target, Sink};
use crate::{Ctx, Failure};
use futures::stream::BoxStream;
use futures::TryStreamExt;
use std::io::IsTerminal;
use std::path::PathBuf;

/// How a listing is written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// Aligned columns for people; nested values shown as compact JSON.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl ListFormat {
    /// `--format`, else a table when the records go to a terminal, else
    /// NDJSON.
    pub fn pick(ctx: &Ctx, format: Option<ListFormat>) -> ListFormat {
        match format {
            Some(f) => f,
            None if file_target(ctx.global.output.as_deref()).is_none()
                && std::io::stdout().is_terminal() =>
            {
                ListFormat::Table
            }
            None => ListFormat::Ndjson,
        }
    }
}

/// `--format` of a listing command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// How to write the records. Default: a table on a terminal, NDJSON otherwise.
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
}

/// The widest a table cell gets before it is cut with `…`.
const MAX_CELL: usize = 48;

/// A listing being written.
pub struct Listing {
    sink: Sink,
    format: ListFormat,
    /// Records so far: for a table, every record (widths need them all);
    /// for a JSON array, just whether one was written.
    rows: Vec<serde_json::Value>,
    written: u64,
}

impl Listing {
    /// Opens `--output` (or stdout) for a listing in the picked format.
    pub async fn open(ctx: &Ctx, args: &ListArgs) -> Result<Listing, Failure> {
        Ok(Listing {
            sink: Sink::open(ctx.global.output.as_deref()).await?,
            format: ListFormat::pick(ctx, args.format),
            rows: Vec::new(),
            written: 0,
        })
    }

    /// Adds one record, given as a JSON text.
    pub async fn line(&mut self, json: &str) -> Result<(), Failure> {
        match self.format {
            ListFormat::Ndjson => self.sink.line(json).await?,
            ListFormat::Json => {
                let sep = if self.written == 0 { "[" } else { "," };
                self.sink.line(&format!("{sep}{json}")).await?;
            }
            ListFormat::Table => self.rows.push(
                serde_json::from_str(json)
                    .map_err(|e| Failure::runtime(format!("a record is not JSON: {e}")))?,
            ),
        }
        self.written += 1;
        Ok(())
    }

    /// Adds one record, serialized with the library type's own field names.
    pub async fn item<T: serde::Serialize>(&mut self, item: &T) -> Result<(), Failure> {
        let json = serde_json::to_string(item).map_err(|e| Failure::runtime(e.to_string()))?;
        self.line(&json).await
    }

    /// Adds every item of `stream` and returns how many there were.
    pub async fn items<T: serde::Serialize>(
        &mut self,
        mut stream: BoxStream<'static, logexport::Result<T>>,
    ) -> Result<u64, Failure> {
        let mut n = 0;
        while let Some(item) = stream.try_next().await? {
            self.item(&item).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Writes what is buffered and commits the output.
    pub async fn finish(mut self) -> Result<Option<PathBuf>, Failure> {
        match self.format {
            ListFormat::Ndjson => {}
            ListFormat::Json if self.written == 0 => self.sink.line("[]").await?,
            ListFormat::Json => self.sink.line("]").await?,
            ListFormat::Table => {
                for line in table(&self.rows) {
                    self.sink.line(&line).await?;
                }
            }
        }
        Ok(self.sink.finish().await?)
    }
}

/// Writes every item of `stream` as a listing and returns how many there
/// were.
pub async fn write_stream<T: serde::Serialize>(
    ctx: &Ctx,
    list: &ListArgs,
    stream: BoxStream<'static, logexport::Result<T>>,
) -> Result<u64, Failure> {
    let mut listing = Listing::open(ctx, list).await?;
    let n = listing.items(stream).await?;
    listing.finish().await?;
    Ok(n)
}

/// Renders records as aligned columns: the union of their top-level keys
/// in first-seen order; a record that is not an object is one `value`
/// column.
pub fn table(rows: &[serde_json::Value]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        match row {
            serde_json::Value::Object(map) => {
                for k in map.keys() {
                    if !columns.iter().any(|c| c == k) {
                        columns.push(k.clone());
                    }
                }
            }
            _ if !columns.iter().any(|c| c == "value") => columns.push("value".into()),
            _ => {}
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| match row {
                    serde_json::Value::Object(map) => map.get(c).map(cell).unwrap_or_default(),
                    other if c == "value" => cell(other),
                    _ => String::new(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let render = |values: &[String]| {
        let mut line = String::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(v);
            if i + 1 < values.len() {
                let pad = widths[i].saturating_sub(v.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        line
    };
    std::iter::once(render(&columns))
        .chain(cells.iter().map(|r| render(r)))
        .collect()
}

/// One value as a table cell: strings bare, null empty, the rest compact
/// JSON, cut to [`MAX_CELL`] characters, with no control characters (a
/// record must not be able to move the cursor).
fn cell(v: &serde_json::Value) -> String {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CELL)
        .collect();
    if text.chars().count() > MAX_CELL {
        out.pop();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_union_columns_and_cut_long_cells() {
        let rows = [
            json!({"id": "a", "n": 1}),
            json!({"id": "bbbb", "extra": "\u{1b}[2J", "long": "x".repeat(100)}),
        ];
        let lines = table(&rows);
        assert_eq!(lines[0], "id    n  extra  long");
        assert!(lines[1].starts_with("a     1"), "{lines:?}");
        assert!(!lines[2].contains('\u{1b}'), "{lines:?}");
        assert!(lines[2].ends_with('…'), "{lines:?}");
        assert_eq!(
            lines[2].chars().rev().take_while(|c| *c != ' ').count(),
            MAX_CELL
        );
    }
}
