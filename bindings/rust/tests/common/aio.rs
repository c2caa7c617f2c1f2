// tokio clients of a container socket (tokio::net::UnixStream).

use std::io;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::content_length;

/// A keep-alive client: one request at a time, responses with a
/// Content-Length, and chunked streams read as raw bytes.
pub struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
}

fn closed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed {what}"),
    )
}

impl Client {
    pub async fn connect(sock: &Path) -> io::Result<Client> {
        Ok(Client {
            stream: UnixStream::connect(sock).await?,
            buf: Vec::new(),
        })
    }

    /// Read more bytes into the buffer; Ok(0) at EOF.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Send `req`, read the response head; returns the head (the status
    /// line first), leaving what follows it in the buffer.
    pub async fn send_head(&mut self, req: &str) -> io::Result<String> {
        self.stream.write_all(req.as_bytes()).await?;
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..i + 4]).into_owned();
                self.buf.drain(..i + 4);
                return Ok(head);
            }
            if self.fill().await? == 0 {
                return Err(closed("before a response head"));
            }
        }
    }

    /// One request with a Content-Length response: (status line, body).
    pub async fn request(&mut self, req: &str) -> io::Result<(String, String)> {
        let head = self.send_head(req).await?;
        let len = content_length(&head);
        while self.buf.len() < len {
            if self.fill().await? == 0 {
                return Err(closed("inside the body"));
            }
        }
        let body: Vec<u8> = self.buf.drain(..len).collect();
        let status = head.lines().next().unwrap_or("").to_string();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Read until the bytes received after the head contain `needle`.
    pub async fn read_until(&mut self, needle: &str) -> io::Result<()> {
        let needle = needle.as_bytes();
        while !self.buf.windows(needle.len()).any(|w| w == needle) {
            if self.fill().await? == 0 {
                return Err(closed("before the expected bytes"));
            }
        }
        Ok(())
    }

    /// Read until EOF (Ok) or an error (a reset counts as an end too).
    pub async fn read_to_end(&mut self) -> io::Result<()> {
        while self.fill().await? > 0 {}
        Ok(())
    }

    /// Bytes received so far after the last head.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

/// One request on a fresh connection: (status line, body).
pub async fn request(sock: &Path, req: &str) -> io::Result<(String, String)> {
    Client::connect(sock).await?.request(req).await
}
