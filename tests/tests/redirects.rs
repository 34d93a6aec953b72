//! The device follows no redirect: a sync server address that answers `307` (which would resend a
//! push's body to the new address, token and all if the host stayed the same) gets a typed error that
//! names the redirect, and the other address is never contacted.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use quartier_core::store::{Identity, Store, StoreOptions};
use quartier_core::sync::{FileSecretStore, SyncClient, SyncError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A listener that counts the connections it gets and answers each with `answer`.
async fn listen(answer: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = vec![0_u8; 64 << 10];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (address, connections)
}

#[tokio::test]
async fn a_redirect_is_refused_with_a_sentence_and_not_followed() {
    let elsewhere =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}".to_owned();
    let (elsewhere, visits) = listen(elsewhere).await;
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}/v1/register\r\ncontent-length: 0\r\n\r\n"
    );
    let (server, _) = listen(redirect).await;

    let dir = tempfile::tempdir().unwrap();
    let identity = Identity { device_id: "amina-phone".to_owned(), person_id: "amina".to_owned() };
    let options = StoreOptions { identity: Some(identity), ..StoreOptions::default() };
    let store = Arc::new(Store::open(dir.path().join("quartier.db"), options).unwrap());
    let secrets = Arc::new(FileSecretStore::new(dir.path().join("secrets.json")));
    let client = SyncClient::new(store, &server, secrets).unwrap();

    let error = client.register().await.unwrap_err();
    match &error {
        SyncError::Server { status, code, message } => {
            assert_eq!((*status, code.as_str()), (307, "redirect"), "{error}");
            assert!(message.contains(&elsewhere) && message.ends_with('.'), "{message}");
        }
        other => panic!("a redirect gave {other:?}"),
    }
    assert_eq!(visits.load(Ordering::SeqCst), 0, "the device followed the redirect");
}
