//! The line-bounded reader under the CSV parser: it follows the CSV grammar
//! to know where every record starts, so errors name the file's line, and
//! refuses a record longer than [`MAX_LINE_BYTES`] before the parser buffers
//! it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

use super::MAX_LINE_BYTES;

/// Where a [`BoundedReader`] is in the CSV grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field (an escaped quote or the end).
    QuoteInQuoted,
}

/// What a [`BoundedReader`] has seen.
#[derive(Debug)]
pub(super) struct Progress {
    pub(super) state: State,
    /// The current physical line (1-based).
    pub(super) line: u64,
    /// The line the current record started on.
    pub(super) record_line: u64,
    /// Bytes of the current record so far.
    pub(super) record_bytes: usize,
    /// The line of a record that passed [`MAX_LINE_BYTES`], if one did.
    pub(super) too_long: Option<u64>,
    /// Bytes read so far.
    pub(super) offset: u64,
    /// Whether the last byte was a `\r`.
    pub(super) previous_cr: bool,
    /// `(byte offset, line)` where each record read ahead of the parser
    /// starts (the `csv` crate numbers lines after `\r\n` one too low, so
    /// record lines are looked up here by byte offset).
    pub(super) starts: VecDeque<(u64, u64)>,
}

impl Progress {
    /// The line of the record that starts at byte `offset` (the `csv`
    /// crate's position; with `\r\n` it may point at the `\n`).
    pub(super) fn line_at(&mut self, offset: u64) -> Option<u64> {
        while self.starts.front().is_some_and(|&(o, _)| o < offset) {
            self.starts.pop_front();
        }
        self.starts
            .front()
            .filter(|&&(o, _)| o == offset)
            .map(|&(_, line)| line)
    }
}

/// A reader that follows the CSV grammar (the `csv` crate's defaults:
/// fields quoted with `"`, quotes escaped by doubling, records ended by
/// `\n`, `\r` or `\r\n` outside quotes) and fails as soon as one record
/// passes [`MAX_LINE_BYTES`], so the parser never buffers an unbounded line.
pub(super) struct BoundedReader<R> {
    pub(super) inner: R,
    pub(super) progress: Rc<RefCell<Progress>>,
}

impl<R: Read> Read for BoundedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut p = self.progress.borrow_mut();
        for &byte in &buf[..n] {
            let end_of_record = match (p.state, byte) {
                (State::Quoted, b'"') => {
                    p.state = State::QuoteInQuoted;
                    false
                }
                (State::Quoted, _) => false,
                (State::QuoteInQuoted, b'"') | (State::FieldStart, b'"') => {
                    p.state = State::Quoted;
                    false
                }
                (_, b',') => {
                    p.state = State::FieldStart;
                    false
                }
                (_, b'\n') | (_, b'\r') => {
                    p.state = State::FieldStart;
                    true
                }
                _ => {
                    p.state = State::Unquoted;
                    false
                }
            };
            // A line break is `\n`, `\r` or `\r\n`.
            if byte == b'\r' || (byte == b'\n' && !p.previous_cr) {
                p.line += 1;
            }
            p.previous_cr = byte == b'\r';
            p.offset += 1;
            if end_of_record {
                p.record_bytes = 0;
                p.record_line = p.line;
                let (offset, line) = (p.offset, p.line);
                p.starts.push_back((offset, line));
            } else {
                p.record_bytes += 1;
                if p.record_bytes > MAX_LINE_BYTES {
                    p.too_long = Some(p.record_line);
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "a line longer than the limit",
                    ));
                }
            }
        }
        Ok(n)
    }
}
