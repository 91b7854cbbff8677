//! The request-head limits hyper would enforce with a bare status line:
//! a request line longer than the `http` crate parses (64 KiB) is a 414,
//! and more than 100 header fields or a head past hyper's buffer a 431,
//! each without a body. This reader sees a connection's bytes before hyper
//! does and refuses such a head first, with the same problem document as
//! every other error, then closes the connection.
//!
//! Only GET and HEAD are served, so the bytes after a head are never a body
//! that could be taken for one.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::Error;

/// Longest request line passed on: far above the 8 KiB the service
/// answers itself, below the 64 KiB the `http` crate refuses.
const MAX_REQUEST_LINE: usize = 32 * 1024;

/// Longest head passed on: below hyper's buffer (about 400 KiB).
const MAX_HEAD: usize = 256 * 1024;

/// Header fields passed on: hyper's own limit.
const MAX_FIELDS: usize = 100;

/// A connection whose request heads are measured as they arrive.
pub(super) struct HeadLimited<S> {
    inner: S,
    /// Bytes of the current head so far.
    head: usize,
    /// Lines of the current head ended so far (the request line included).
    lines: usize,
    /// Characters on the current line, line breaks excluded.
    line: usize,
    /// Once a head is refused: the answer and how much of it was written.
    refusal: Option<(Vec<u8>, usize)>,
}

impl<S> HeadLimited<S> {
    pub(super) fn new(inner: S) -> Self {
        HeadLimited {
            inner,
            head: 0,
            lines: 0,
            line: 0,
            refusal: None,
        }
    }

    /// Follows `bytes` through the heads they belong to; the error a head
    /// deserves once it is past a limit.
    fn measure(&mut self, bytes: &[u8]) -> Option<Error> {
        for &byte in bytes {
            self.head += 1;
            match byte {
                b'\n' if self.line == 0 && self.lines > 0 => {
                    // An empty line ends the head.
                    self.head = 0;
                    self.lines = 0;
                }
                b'\n' => {
                    self.lines += 1;
                    self.line = 0;
                }
                b'\r' => {}
                _ => self.line += 1,
            }
            if self.lines == 0 && self.line > MAX_REQUEST_LINE {
                return Some(Error::UriTooLong(self.line));
            }
            if self.head > MAX_HEAD || self.lines > MAX_FIELDS + 1 {
                return Some(Error::HeadersTooLarge {
                    bytes: self.head,
                    count: self.lines.saturating_sub(1),
                });
            }
        }
        None
    }
}

/// `error` as a whole HTTP/1.1 response that closes the connection.
fn response_bytes(error: &Error) -> Vec<u8> {
    let status = error.status();
    let body = serde_json::to_vec(&error.problem()).unwrap_or_default();
    tracing::debug!(status = status.as_u16(), error = %error.chain(), "request head refused");
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        crate::error::PROBLEM_JSON,
        body.len()
    )
    .into_bytes();
    out.extend(body);
    out
}

impl<S: AsyncRead + AsyncWrite + Unpin> HeadLimited<S> {
    /// Writes the refusal, then shuts the writing side: ready once done.
    fn poll_refuse(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, written)) = &mut self.refusal {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    break;
                }
                *written += n;
            }
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadLimited<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.refusal.is_some() {
            // hyper sees the end of the stream once the answer is out.
            ready!(this.poll_refuse(cx))?;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let refused = this.measure(&buf.filled()[before..]);
        if let Some(error) = refused {
            // None of these bytes reach hyper.
            buf.set_filled(before);
            this.refusal = Some((response_bytes(&error), 0));
            ready!(this.poll_refuse(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadLimited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_heads_pass_and_are_measured_one_at_a_time() {
        let mut limited = HeadLimited::new(());
        let head = b"GET /footprint/a/2019-11-25 HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..10_000 {
            assert!(limited.measure(head).is_none());
        }
    }

    #[test]
    fn a_request_line_past_its_limit_is_a_414() {
        let mut limited = HeadLimited::new(());
        let long = vec![b'a'; MAX_REQUEST_LINE + 1];
        assert!(limited.measure(b"GET /").is_none());
        assert!(matches!(limited.measure(&long), Some(Error::UriTooLong(_))));
    }

    #[test]
    fn too_many_fields_or_bytes_in_a_head_is_a_431() {
        let mut limited = HeadLimited::new(());
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_FIELDS {
            head.extend(format!("X-{i}: y\r\n").bytes());
        }
        assert!(matches!(
            limited.measure(&head),
            Some(Error::HeadersTooLarge { count: 101, .. })
        ));
        let mut limited = HeadLimited::new(());
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "v".repeat(MAX_HEAD));
        assert!(matches!(
            limited.measure(big.as_bytes()),
            Some(Error::HeadersTooLarge { .. })
        ));
    }
}
