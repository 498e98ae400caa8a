//! Positions in bakery.toml for diagnostics: a line index built once per file, so that turning
//! thousands of byte offsets into lines, columns and miette snippets costs a lookup each instead
//! of a scan from the top of the file (which made reporting quadratic in the file size). It
//! reads the source only; it does not render or print.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Bytes per block of the character-count index: a column costs at most one block of counting.
const BLOCK: usize = 1024;

/// Where every line starts, and how many characters precede each block of bytes.
#[derive(Debug)]
pub struct LineIndex<'a> {
    source: &'a str,
    /// Starts of lines ended by `\n` (what JSON positions and `file:line:column` count).
    starts: Vec<usize>,
    /// Starts of lines as miette counts them: `\n`, `\r\n` and a lone `\r` each end a line.
    miette_starts: Vec<usize>,
    /// Characters in `source[..k * BLOCK]`, for each `k`.
    chars_before_block: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(source: &'a str) -> Self {
        let bytes = source.as_bytes();
        let mut starts = vec![0];
        let mut miette_starts = vec![0];
        for (i, &byte) in bytes.iter().enumerate() {
            match byte {
                b'\n' => {
                    starts.push(i + 1);
                    miette_starts.push(i + 1);
                }
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => miette_starts.push(i + 1),
                _ => {}
            }
        }
        let mut chars_before_block = vec![0];
        for block in bytes.chunks(BLOCK) {
            let last = chars_before_block.last().copied().unwrap_or(0);
            chars_before_block.push(last + chars_in(block));
        }
        Self {
            source,
            starts,
            miette_starts,
            chars_before_block,
        }
    }

    /// 1-based line and column (in characters) of a byte offset; lines end at `\n`.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line - 1];
        (
            line,
            self.chars_before(offset) - self.chars_before(start) + 1,
        )
    }

    /// The 0-based number of the `\n`-ended line that holds `offset`.
    pub fn line_at(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset) - 1
    }

    /// The bytes of line `line` (0-based), without its `\n`; `None` past the last line.
    pub fn line_range(&self, line: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.starts.get(line)?;
        let end = self
            .starts
            .get(line + 1)
            .map_or(self.source.len(), |next| next - 1);
        Some(start..end)
    }

    /// Characters in `source[..offset]`: a UTF-8 character is one byte that is not a
    /// continuation byte, so any byte offset can be counted.
    fn chars_before(&self, offset: usize) -> usize {
        let block = offset / BLOCK;
        self.chars_before_block[block] + chars_in(&self.source.as_bytes()[block * BLOCK..offset])
    }
}

fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xc0) != 0x80).count()
}

/// bakery.toml as miette reads it, with the same snippets, lines and columns as miette's own
/// `String` source, but each snippet read from a few lines above its span instead of from the
/// top of the file.
#[derive(Debug)]
pub struct IndexedSource<'a> {
    pub name: &'a str,
    pub index: &'a LineIndex<'a>,
}

impl SourceCode for IndexedSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let source = self.index.source;
        let starts = &self.index.miette_starts;
        let offset = span.offset().min(source.len());
        // miette's reading depends only on the text from `context_lines_before` lines above
        // the span's line onwards (and, for an empty span at the start of a line, on the
        // character before it): start one line earlier still, and shift its positions back.
        let span_line = starts.partition_point(|&start| start <= offset) - 1;
        let first_line = span_line.saturating_sub(context_lines_before + 1);
        let window_start = starts[first_line];
        let window = &source[window_start..];
        let shifted = SourceSpan::new((span.offset() - window_start).into(), span.len());
        let contents = window.read_span(&shifted, context_lines_before, context_lines_after)?;
        let contents_span = contents.span();
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.to_owned(),
            contents.data(),
            SourceSpan::new(
                (contents_span.offset() + window_start).into(),
                contents_span.len(),
            ),
            contents.line() + first_line,
            contents.column(),
            contents.line_count() + first_line,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old way: scan from the top of the file.
    fn scanned(source: &str, offset: usize) -> (usize, usize) {
        let before = &source[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    #[test]
    fn positions_match_a_scan_from_the_top() {
        let source = format!("a = 1\r\nbé = \"ü\"\rc\n\n{}x\n", "é".repeat(1500));
        let index = LineIndex::new(&source);
        for offset in (0..=source.len()).filter(|&o| source.is_char_boundary(o)) {
            assert_eq!(
                index.line_column(offset),
                scanned(&source, offset),
                "{offset}"
            );
        }
    }

    #[test]
    fn snippets_match_miettes_own_reading() {
        let source = "one\ntwo\r\nthree\rfour\n\nsix é\nseven\neight\n".to_owned();
        let index = LineIndex::new(&source);
        let indexed = IndexedSource {
            name: "f",
            index: &index,
        };
        for start in (0..source.len()).filter(|&o| source.is_char_boundary(o)) {
            for len in [0, 1, 3, 9] {
                if !source.is_char_boundary((start + len).min(source.len())) {
                    continue;
                }
                let len = len.min(source.len() - start);
                for context in [0, 1, 2] {
                    let span = SourceSpan::new(start.into(), len);
                    let ours = indexed.read_span(&span, context, context).unwrap();
                    let theirs = source.read_span(&span, context, context).unwrap();
                    let what = format!("{start}+{len} context {context}");
                    assert_eq!(ours.data(), theirs.data(), "{what}");
                    assert_eq!(ours.span(), theirs.span(), "{what}");
                    assert_eq!(ours.line(), theirs.line(), "{what}");
                    assert_eq!(ours.column(), theirs.column(), "{what}");
                    assert_eq!(ours.line_count(), theirs.line_count(), "{what}");
                }
            }
        }
    }
}
