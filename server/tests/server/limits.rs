//! Limits and malformed requests: every refusal is a 4xx with an `ErrorBody`, never a 500; the rate
//! limit; compression both ways; `/health` and `/metrics`.

use crate::support::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use quartier_core::sync::protocol::*;
use quartier_server::Config;
use quartier_server::rate_limit::RateLimit;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use std::io::Write;
use std::num::NonZeroU32;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A valid first push of `phone`, as JSON text.
fn first_push(phone: &mut Phone) -> String {
    let m = phone.mutation("aligre", found("Aligre", "Mona"));
    serde_json::to_string(&PushRequest { mutations: vec![m] }).unwrap()
}

async fn malformed_requests_get_400_with_a_sentence(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    let valid: serde_json::Value = serde_json::from_str(&first_push(&mut mona)).unwrap();
    let mut unknown_name = valid.clone();
    unknown_name["mutations"][0]["name"] = "loan.steal".into();
    let mut unknown_arg = valid.clone();
    unknown_arg["mutations"][0]["args"]["owner"] = "mona".into();
    let mut unknown_top = valid.clone();
    unknown_top["server_version"] = 9.into();
    let mut unknown_in_mutation = valid.clone();
    unknown_in_mutation["mutations"][0]["version"] = 9.into();
    let mut wrong_seq_type = valid.clone();
    wrong_seq_type["mutations"][0]["seq"] = "one".into();
    let mut bad_clock = valid.clone();
    bad_clock["mutations"][0]["hlc"] = "yesterday".into();

    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", String::from("{\"mutations\": [}"), "not valid JSON"),
        ("a truncated body", valid.to_string()[..20].to_owned(), "JSON"),
        ("the wrong type", String::from(r#"{"mutations": "all of them"}"#), "mutations"),
        ("a missing field", String::from("{}"), "mutations"),
        ("an unknown mutation name", unknown_name.to_string(), "loan.steal"),
        ("an unknown argument", unknown_arg.to_string(), "owner"),
        ("an unknown field of the request", unknown_top.to_string(), "server_version"),
        ("an unknown field of a mutation", unknown_in_mutation.to_string(), "version"),
        ("a seq that is not a number", wrong_seq_type.to_string(), "seq"),
        ("a malformed clock stamp", bad_clock.to_string(), "clock stamp"),
    ];
    for (what, body, named) in cases {
        let response = server
            .http
            .post(server.url("/v1/push"))
            .bearer_auth(&mona.token)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains(named), "{what}: {message}");
    }

    // No JSON content type.
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&mona.token)
        .body(valid.to_string())
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_request").await;
    assert!(message.contains("application/json"), "{message}");

    // Registration is read as strictly.
    let response = server
        .http
        .post(server.url("/v1/register"))
        .json(&serde_json::json!({ "device_id": "d", "person_id": "p", "admin": true }))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("admin"), "{message}");

    // Nothing was applied by any of it: the valid push is still seq 1.
    let response =
        server.http.post(server.url("/v1/push")).bearer_auth(&mona.token).json(&valid).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: PushResponse = response.json().await.unwrap();
    assert_eq!(answer.results, vec![MutationResult { seq: 1, outcome: Outcome::Applied }]);
}

async fn unknown_addresses_and_methods_get_an_error_body(db: Db) {
    let server = TestServer::start(db).await;
    let response = server.http.get(server.url("/v2/push")).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = server.http.get(server.url("/v1/push")).send().await.unwrap();
    expect_error(response, StatusCode::METHOD_NOT_ALLOWED, "bad_request").await;
}

async fn bodies_over_the_limit_get_413_plain_or_compressed(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    // 2 MiB of valid JSON: a long description.
    let mut m = mona.mutation("aligre", found("Aligre", "Mona"));
    if let quartier_core::domain::Op::NeighbourhoodCreate(create) = &mut m.op {
        create.description = " ".repeat(2 << 20);
    }
    let big = serde_json::to_vec(&PushRequest { mutations: vec![m] }).unwrap();
    assert!(big.len() > 2 << 20);
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&mona.token)
        .header(CONTENT_TYPE, "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert!(message.contains("1 MiB"), "{message}");

    // Compressed, it is small on the wire, but the limit holds for what it unpacks to.
    let packed = gzip(&big);
    assert!(packed.len() < 64 << 10, "{}", packed.len());
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&mona.token)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "gzip")
        .body(packed)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;

    // Too many mutations in one push.
    let mutations: Vec<_> =
        (0..=MAX_PUSH_MUTATIONS).map(|i| mona.mutation("aligre", ask(&format!("f-{i}"), "Help"))).collect();
    let message =
        expect_error(server.push(&mona, &mutations).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    assert!(message.contains(&MAX_PUSH_MUTATIONS.to_string()), "{message}");

    // A body in an encoding the server does not read.
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&mona.token)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "br")
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_request").await;
    // A gzip body that is not gzip.
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&mona.token)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "gzip")
        .body("not gzip at all")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}

async fn requests_and_answers_may_be_gzip_compressed(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    let body = first_push(&mut mona);
    let response = server
        .http
        .post(server.url("/v1/push"))
        .bearer_auth(&mona.token)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_ENCODING, "gzip")
        .body(gzip(body.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: PushResponse = response.json().await.unwrap();
    assert_eq!(answer.results, vec![MutationResult { seq: 1, outcome: Outcome::Applied }]);

    // A client that says it reads gzip gets gzip, for an answer over COMPRESS_ABOVE bytes.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let token = mona.token.clone();
    let pull = || {
        raw.get(server.url("/v1/neighbourhoods/aligre/pull"))
            .bearer_auth(&token)
            .header("accept-encoding", "gzip")
            .send()
    };
    let response = pull().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A page of one change is shorter: it goes as it is.
    assert_eq!(response.headers().get(CONTENT_ENCODING), None);
    let page: PullResponse = response.json().await.unwrap();
    assert_eq!(page.checkpoint, 1);
    for i in 0..10 {
        server.act(&mut mona, "aligre", ask(&format!("f-{i}"), "Someone to water the plants")).await;
    }
    let response = pull().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get(CONTENT_ENCODING).unwrap(), "gzip");
    let packed = response.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&packed[..]), &mut text).unwrap();
    assert!(text.len() > usize::from(quartier_server::COMPRESS_ABOVE), "{text}");
    let page: PullResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(page.checkpoint, 11);
}

async fn register_and_join_are_rate_limited_per_address(db: Db) {
    let limit = RateLimit { per_minute: NonZeroU32::new(1).unwrap(), burst: NonZeroU32::new(2).unwrap() };
    let server = TestServer::start_with(db, Config { onboarding_limit: limit, ..Config::default() }).await;
    let ana = server.register("ana").await;
    let _ben = server.register("ben").await;
    let response = server
        .http
        .post(server.url("/v1/register"))
        .json(&RegisterRequest { device_id: "cleo-phone".into(), person_id: "cleo".into(), token: None })
        .send()
        .await
        .unwrap();
    let retry_after: u64 =
        response.headers().get(RETRY_AFTER).expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let message = expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(message.contains("try again"), "{message}");

    // Joining has its own limit, counted before anything else is looked at.
    for _ in 0..2 {
        let response = server.join_raw(&ana, "no such code", "Ana").await;
        expect_error(response, StatusCode::NOT_FOUND, "invitation_unusable").await;
    }
    let response = server.join_raw(&ana, "no such code", "Ana").await;
    assert!(response.headers().contains_key(RETRY_AFTER));
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Pushes and pulls are not limited this way.
    let mut ana = ana;
    for _ in 0..3 {
        let m = ana.mutation("n-ana", found("Ana's", "Ana"));
        server.push_ok(&ana, &[m]).await;
    }
}

async fn behind_a_proxy_the_forwarded_address_is_limited(db: Db) {
    let limit = RateLimit { per_minute: NonZeroU32::new(1).unwrap(), burst: NonZeroU32::new(1).unwrap() };
    let config = Config {
        onboarding_limit: limit,
        client_ip_header: Some("x-forwarded-for".parse().unwrap()),
        ..Config::default()
    };
    let server = TestServer::start_with(db, config).await;
    let register = |person: &str, from: &str| {
        server
            .http
            .post(server.url("/v1/register"))
            .header("x-forwarded-for", format!("203.0.113.9, {from}"))
            .json(&RegisterRequest {
                device_id: format!("{person}-phone"),
                person_id: person.into(),
                token: None,
            })
            .send()
    };
    assert_eq!(register("ana", "198.51.100.1").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(register("ben", "198.51.100.2").await.unwrap().status(), StatusCode::CREATED);
    let third = register("cleo", "198.51.100.1").await.unwrap();
    expect_error(third, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

async fn health_and_metrics(db: Db) {
    let server = TestServer::start(db).await;
    let response = server.http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let h = hood(&server).await;
    let mut lea = h.lea;
    server.act(&mut lea, &h.nid, ask("f-1", "Water my plants")).await;
    server.refused(&mut lea, &h.nid, ask("f-1", "Again")).await;
    let page = server.pull_page(&lea, &h.nid, 0, None).await;
    expect_error(server.pull(&lea, "nowhere", 0, None).await, StatusCode::NOT_FOUND, "not_found").await;

    let response = server.http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().contains("text"));
    let text = response.text().await.unwrap();
    for line in [
        // Mona's neighbourhood, invitation and role change, and Léa's favour.
        r#"quartier_push_mutations_total{outcome="applied"} 4"#.to_owned(),
        r#"quartier_push_mutations_total{outcome="rejected"} 1"#.to_owned(),
        r#"quartier_push_mutations_total{outcome="duplicate"} 0"#.to_owned(),
        format!("quartier_pull_changes_total {}", page.changes.len()),
        r#"quartier_joins_total{outcome="joined"} 3"#.to_owned(),
        r#"quartier_http_requests_total{route="/v1/push",method="POST",status="200"} 5"#.to_owned(),
        r#"quartier_http_requests_total{route="/v1/register",method="POST",status="201"} 4"#.to_owned(),
        r#"quartier_http_requests_total{route="/v1/neighbourhoods/{id}/pull",method="GET",status="200"} 1"#
            .to_owned(),
        r#"quartier_http_requests_total{route="/v1/neighbourhoods/{id}/pull",method="GET",status="404"} 1"#
            .to_owned(),
        r#"quartier_http_requests_total{route="/health",method="GET",status="200"} 1"#.to_owned(),
        r#"quartier_http_request_duration_seconds_count{route="/v1/push",method="POST"} 5"#.to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
    }
    assert!(text.contains("quartier_http_request_duration_seconds_bucket{"), "{text}");
}

/// A server started with a metrics token answers `/metrics` only to a scraper that sends it: not
/// without a token, with another one, or with a device's.
async fn metrics_may_need_a_token_of_their_own(db: Db) {
    let token = "scraper-token-0123456789abcdef";
    let config = Config {
        onboarding_limit: generous(),
        metrics_token: Some(quartier_server::config::MetricsToken::new(token).unwrap()),
        ..Config::default()
    };
    let server = TestServer::start_with(db, config).await;
    let mona = server.register("mona").await;
    let metrics = |bearer: Option<&str>| {
        let request = server.http.get(server.url("/metrics"));
        match bearer {
            Some(bearer) => request.bearer_auth(bearer),
            None => request,
        }
        .send()
    };
    for bearer in [None, Some("scraper-token-0123456789abcdeF"), Some(mona.token.as_str())] {
        let message =
            expect_error(metrics(bearer).await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert!(message.contains("metrics token"), "{message}");
    }
    let response = metrics(Some(token)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("quartier_http_requests_total"));
    // The rest of the server is as it was.
    assert_eq!(server.http.get(server.url("/health")).send().await.unwrap().status(), StatusCode::OK);
}

/// An id with the character NUL (which PostgreSQL's text cannot hold) is an id like any other that
/// names nothing: a 4xx or a rejection, never a 500.
async fn ids_with_a_nul_character_name_nothing(db: Db) {
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let (mut lea, mut mona) = (h.lea, h.mona);
    server.refused(&mut lea, "ali\u{0}gre", ask("f-nul", "Help")).await;
    server
        .refused(
            &mut mona,
            &h.nid,
            quartier_core::domain::mutation::MemberRemove { member_id: "lea\u{0}".into() },
        )
        .await;
    server
        .refused(&mut lea, &h.nid, quartier_core::domain::mutation::FavourRef { id: "f\u{0}".into() })
        .await;
    let response = server.pull(&lea, "ali\u{0}gre", 0, None).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = server.join_raw(&lea, "plum\u{0}tree", "Léa").await;
    expect_error(response, StatusCode::NOT_FOUND, "invitation_unusable").await;
    let response = server
        .http
        .post(server.url("/v1/register"))
        .json(&RegisterRequest { device_id: "d\u{0}".into(), person_id: "zoe".into(), token: None })
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    // And the neighbourhood goes on.
    server.act(&mut lea, &h.nid, ask("f-after", "Help")).await;
}

on_both_backends!(
    malformed_requests_get_400_with_a_sentence,
    unknown_addresses_and_methods_get_an_error_body,
    bodies_over_the_limit_get_413_plain_or_compressed,
    requests_and_answers_may_be_gzip_compressed,
    register_and_join_are_rate_limited_per_address,
    behind_a_proxy_the_forwarded_address_is_limited,
    health_and_metrics,
    metrics_may_need_a_token_of_their_own,
    ids_with_a_nul_character_name_nothing,
);
