//! The CSV framing shared by every import: UTF-8 and header checks, rows
//! with their physical line numbers, and rows whose field count cannot be
//! trusted rejected before any field is read.

use super::{ImportError, ImportKind, ImportReport, Rejection};
use std::collections::HashMap;

/// A parsed file: column positions and data records with their lines.
pub(super) struct Table {
    /// Column name → index in each record.
    columns: HashMap<String, usize>,
    /// (line, record) for each non-blank data row.
    pub(super) records: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    /// A field of `record`, trimmed (empty when the row stops early).
    pub(super) fn field<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        self.columns.get(column).and_then(|&i| record.get(i)).unwrap_or("").trim()
    }

    /// Whether the header names `column` (an optional column left out
    /// leaves what is stored alone).
    pub(super) fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }
}

/// Check the encoding and the header of `body` and split it into records
/// with their lines; rows that cannot be read or have the wrong number of
/// fields go to `report` as rejections.
pub(super) fn read_table(kind: ImportKind, body: &[u8], report: &mut ImportReport) -> Result<Table, ImportError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let offset = e.valid_up_to();
        let line = 1 + body[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
        ImportError::NotUtf8 { offset, line }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| ImportError::Header(format!("the header row cannot be read: {e}")))?.clone();
    let mut columns = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if columns.insert(name.clone(), i).is_some()
            && (kind.required_columns().contains(&name.as_str()) || kind.optional_columns().contains(&name.as_str()))
        {
            return Err(ImportError::Header(format!("column `{name}` appears twice in the header")));
        }
    }
    let missing: Vec<&str> =
        kind.required_columns().iter().copied().filter(|c| !columns.contains_key(*c)).collect();
    if !missing.is_empty() {
        return Err(ImportError::Header(format!(
            "the header is missing column(s) {}; a {} file needs: {}",
            missing.join(", "),
            kind.as_str(),
            kind.required_columns().join(",")
        )));
    }
    let width = headers.len();
    let mut records = Vec::new();
    let mut lines = LineCounter::new(text.as_bytes());
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                if let Some(reason) = width_problem(kind, &columns, width, &record) {
                    report.rejected.push(Rejection { line, reason });
                    continue;
                }
                records.push((line, record));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                report.rejected.push(Rejection { line, reason: format!("unreadable CSV row: {e}") });
            }
        }
    }
    Ok(Table { columns, records })
}

/// Why a record's field count does not fit the header, if it does not.
///
/// A row may stop early when the columns it leaves out are optional or not
/// read (the tenants file's trailing `status` then defaults to `active`),
/// and may end with empty fields past the header (a stray trailing comma);
/// anything else means the fields would land in the wrong columns.
fn width_problem(kind: ImportKind, columns: &HashMap<String, usize>, width: usize, record: &csv::StringRecord) -> Option<String> {
    let len = record.len();
    if len < width {
        let mut missing: Vec<&str> =
            kind.required_columns().iter().copied().filter(|c| columns.get(*c).is_some_and(|&i| i >= len)).collect();
        if missing.is_empty() {
            return None;
        }
        missing.sort_by_key(|c| columns.get(*c).copied().unwrap_or(usize::MAX));
        return Some(format!("row has {len} fields but the header has {width}: no {}", missing.join(", ")));
    }
    if record.iter().skip(width).any(|f| !f.trim().is_empty()) {
        return Some(format!("row has {len} fields but the header has {width}: the extra fields are not empty"));
    }
    None
}

/// Physical line numbers of records from their byte offsets.
///
/// The csv crate's own line count skips blank lines and miscounts CRLF files
/// (as Windows AR exports are), so the line is counted here: a record's
/// offset is where the reader resumed after the previous record, so line
/// breaks there (blank lines, the `\n` of a CRLF) are skipped to reach its
/// first byte; `\n`, `\r\n` and a lone `\r` each end one line. Offsets
/// only grow, so each byte is looked at once.
struct LineCounter<'t> {
    /// The whole body.
    text: &'t [u8],
    /// Bytes before this offset are counted.
    pos: usize,
    /// The line `pos` is on (1-based).
    line: u64,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t [u8]) -> Self {
        LineCounter { text, pos: 0, line: 1 }
    }

    /// The line of the first byte at or after `offset` that is not a line break.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        while self.pos < start {
            match self.text[self.pos] {
                b'\n' => self.line += 1,
                b'\r' if self.text.get(self.pos + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.line
    }
}

/// Collects every problem of one row, so a rejection names them all.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<String>);

impl Problems {
    /// The value, or None with the problem noted.
    pub(super) fn take<T>(&mut self, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Every problem noted, for the rejection.
    pub(super) fn reason(&self) -> String {
        self.0.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of the data records the reader reports, for each body.
    #[test]
    fn line_numbers_are_physical_lines() {
        let cases: &[(&str, &[u64])] = &[
            ("h\na\nb\n", &[2, 3]),
            ("h\na\n\nb\n", &[2, 4]),
            ("h\na\n\n\n\nb", &[2, 6]),
            ("h\r\na\r\n\r\nb\r\n", &[2, 4]),
            ("h\ra\r\rb", &[2, 4]),
            ("h\n\"a\nx\"\nb\n", &[2, 4]),
            ("h\r\n\"a\r\nx\r\ny\"\r\n\r\nb", &[2, 6]),
            ("\n\nh\na\n", &[4]),
        ];
        for (text, want) in cases {
            let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
            let mut lines = LineCounter::new(text.as_bytes());
            let got: Vec<u64> = reader
                .records()
                .map(|r| lines.line_at(r.unwrap().position().unwrap().byte()))
                .collect();
            assert_eq!(&got, want, "{text:?}");
        }
    }
}
