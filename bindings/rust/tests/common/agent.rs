// The agent's side: its trait, declared with #[async_trait] exactly as the
// agent declares it, and its impl for Dockmux through the crate's own impl
// (each method returns the crate's future: the signatures are the same, so
// this compiles only while the crate's expanded form matches async-trait's).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use dockmux::Dockmux;

#[async_trait]
pub trait DockerSocketSpawner: Send + Sync + std::fmt::Debug {
    /// The socket's host path, or None.
    async fn spawn(&self, container_key: &str, token: String) -> Option<String>;
    async fn teardown(&self, container_key: &str);
}

#[rustfmt::skip]
impl DockerSocketSpawner for Dockmux {
    fn spawn<'a, 'b, 'c>(&'a self, container_key: &'b str, token: String)
        -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'c>>
        where Self: 'c, 'a: 'c, 'b: 'c
    {
        <Dockmux as dockmux::DockerSocketSpawner>::spawn(self, container_key, token)
    }

    fn teardown<'a, 'b, 'c>(&'a self, container_key: &'b str)
        -> Pin<Box<dyn Future<Output = ()> + Send + 'c>>
        where Self: 'c, 'a: 'c, 'b: 'c
    {
        <Dockmux as dockmux::DockerSocketSpawner>::teardown(self, container_key)
    }
}

/// An agent that writes its impl with #[async_trait] too (an `async fn` that
/// awaits the crate's future): the other way to delegate, one more box.
#[derive(Debug)]
pub struct Wrapped(pub Dockmux);

#[async_trait]
impl DockerSocketSpawner for Wrapped {
    async fn spawn(&self, container_key: &str, token: String) -> Option<String> {
        <Dockmux as dockmux::DockerSocketSpawner>::spawn(&self.0, container_key, token).await
    }

    async fn teardown(&self, container_key: &str) {
        <Dockmux as dockmux::DockerSocketSpawner>::teardown(&self.0, container_key).await
    }
}

/// For an agent whose runtime must not wait for the rings: the same calls in
/// tokio's blocking pool (the worker is free; the caller waits as long, plus
/// the hand-off). The spawn still goes through the crate's trait future,
/// which wipes the token; it is Ready on its first poll, so `block_on` polls
/// it once. A spawn whose caller is cancelled after it started still
/// completes: teardown the key (idempotent) when in doubt.
#[derive(Debug, Clone)]
pub struct Blocking(pub Arc<Dockmux>);

#[async_trait]
impl DockerSocketSpawner for Blocking {
    async fn spawn(&self, container_key: &str, token: String) -> Option<String> {
        let (dmx, key) = (self.0.clone(), container_key.to_owned());
        tokio::task::spawn_blocking(move || {
            futures::executor::block_on(<Dockmux as dockmux::DockerSocketSpawner>::spawn(
                &dmx, &key, token,
            ))
        })
        .await
        .ok()
        .flatten()
    }

    async fn teardown(&self, container_key: &str) {
        let (dmx, key) = (self.0.clone(), container_key.to_owned());
        let _ = tokio::task::spawn_blocking(move || dmx.teardown(&key)).await;
    }
}
