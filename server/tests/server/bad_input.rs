//! Property tests of every endpoint over real HTTP (a server on 127.0.0.1:0, both backends): arbitrary
//! JSON shapes, oversized text, invalid UTF-8, huge lists, deep nesting, dates out of range, and
//! prices, quantities and counters at the limits of their types get a 4xx with an `ErrorBody` and a
//! sentence — or, for a well-formed mutation, a typed refusal with a sentence — never a 5xx.
//! `QUARTIER_PROPTEST_CASES=N` sets the random cases per endpoint (default 48).

use crate::support::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use quartier_core::domain::mutation::*;
use quartier_core::domain::{Entity, EntityKind, OrderLine};
use quartier_core::sync::protocol::{ErrorBody, Outcome, PushResponse};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

/// Any JSON value, a few levels deep, with odd strings and numbers at their limits.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        Just(serde_json::Value::from(i64::MIN)),
        Just(serde_json::Value::from(u64::MAX)),
        ".{0,40}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("9999-12-31")),
        Just(serde_json::Value::from("a\u{0}b")),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("mutations".to_owned()),
                    Just("device_id".to_owned()),
                    Just("code".to_owned()),
                    "[a-z_]{1,12}"
                ],
                inner,
                0..6
            )
            .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

fn cases() -> u32 {
    std::env::var("QUARTIER_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(48)
}

/// Checks an answer: never a 5xx; an error carries an `ErrorBody` whose message is a sentence.
async fn clear(response: reqwest::Response, what: &str) -> (StatusCode, String) {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(!status.is_server_error(), "{what}: {status} {text}");
    if status.is_client_error() {
        let body: ErrorBody = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: {status} without an ErrorBody ({e}): {text}"));
        assert!(body.error.message.len() > 10 && body.error.message.ends_with('.'), "{what}: {text}");
    }
    (status, text)
}

async fn send(server: &TestServer, phone: &Phone, path: &str, body: Vec<u8>) -> reqwest::Response {
    let request = if path.contains("/pull") {
        server.http.get(server.url(path))
    } else {
        server.http.post(server.url(path)).header(CONTENT_TYPE, "application/json").body(body)
    };
    request.bearer_auth(&phone.token).send().await.unwrap()
}

const POSTS: [&str; 4] = ["/v1/register", "/v1/devices", "/v1/join", "/v1/push"];

async fn every_endpoint_answers_any_body_clearly(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    server.act(&mut mona, "aligre", found("Aligre", "Mona")).await;

    // Random shapes to every POST endpoint, and random query strings to pull.
    let mut runner = TestRunner::new_with_rng(
        Config { cases: cases(), failure_persistence: None, ..Config::default() },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]),
    );
    let strategy = (0..POSTS.len() + 1, any_json(), "[a-z=&0-9%-]{0,40}");
    // Drawn from the seeded generator up front: the requests themselves are async.
    let inputs: Vec<_> = (0..cases()).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect();
    for (endpoint, body, query) in inputs {
        if endpoint == POSTS.len() {
            let path = format!("/v1/neighbourhoods/aligre/pull?{query}");
            clear(send(&server, &mona, &path, Vec::new()).await, &path).await;
        } else {
            let what = format!("{} {body}", POSTS[endpoint]);
            let (status, _) =
                clear(send(&server, &mona, POSTS[endpoint], body.to_string().into_bytes()).await, &what)
                    .await;
            // Only a body of the endpoint's own shape can go through.
            assert!(status.is_client_error() || body.is_object(), "{what}: {status}");
        }
    }

    // The shapes that have broken servers before, to every POST endpoint.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge_list = format!("{{\"mutations\":[{}]}}", vec!["{}"; 400_000].join(","));
    let long_text = format!("{{\"code\":\"{}\",\"display_name\":\"x\"}}", "x".repeat(2 << 20));
    let nasty: Vec<(&str, Vec<u8>, &[StatusCode])> = vec![
        ("deep nesting", deep.into_bytes(), &[StatusCode::BAD_REQUEST]),
        ("a huge list", huge_list.into_bytes(), &[StatusCode::PAYLOAD_TOO_LARGE]),
        ("oversized text", long_text.into_bytes(), &[StatusCode::PAYLOAD_TOO_LARGE]),
        (
            "invalid UTF-8",
            b"{\"device_id\":\"\xff\xfe\",\"code\":\"\xc3\x28\"}".to_vec(),
            &[StatusCode::BAD_REQUEST],
        ),
        (
            "a lone surrogate",
            br#"{"device_id":"\udc00","code":"\ud800"}"#.to_vec(),
            &[StatusCode::BAD_REQUEST],
        ),
        ("an empty body", Vec::new(), &[StatusCode::BAD_REQUEST]),
    ];
    for (what, body, expected) in &nasty {
        for path in POSTS {
            let (status, text) = clear(send(&server, &mona, path, body.clone()).await, what).await;
            assert!(expected.contains(&status), "{what} to {path}: {status} {text}");
        }
    }
}

/// Well-formed mutations with values at the limits of their types: each is refused by the rules with
/// a sentence (or applied where the value is fine), never a 5xx, and the stock never goes wrong.
async fn mutations_at_the_limits_are_refused_with_a_sentence(db: Db) {
    let server = TestServer::start(db).await;
    let mut h = hood(&server).await;
    let nid = h.nid.clone();
    let stall = stall("stall", "Greens");
    server.act(&mut h.tom, &nid, stall.clone()).await;
    let product = ProductAdd {
        id: "apples".into(),
        stall_id: "stall".into(),
        name: "Apples".into(),
        unit: "kg".into(),
        price_cents: 300,
        stock: 10,
        available_today: true,
    };
    server.act(&mut h.tom, &nid, product.clone()).await;
    let huge = "x".repeat(100_000);
    let far = quartier_core::domain::Day::from_days_since_epoch(84_000).unwrap();
    let tom_ops: Vec<(&str, Op)> = vec![
        ("a price of i64::MAX", ProductSetPrice { id: "apples".into(), price_cents: i64::MAX }.into()),
        ("a negative price", ProductSetPrice { id: "apples".into(), price_cents: -1 }.into()),
        ("a stock of i64::MAX", ProductAdd { id: "p2".into(), stock: i64::MAX, ..product.clone() }.into()),
        ("a delta of i64::MIN", ProductAdjustStock { id: "apples".into(), delta: i64::MIN }.into()),
        ("a delta of i64::MAX", ProductAdjustStock { id: "apples".into(), delta: i64::MAX }.into()),
        ("a stocktake of -1", ProductStocktake { id: "apples".into(), count: -1 }.into()),
        (
            "a name of 100 000 characters",
            ProductEdit { id: "apples".into(), name: huge.clone(), unit: "kg".into() }.into(),
        ),
        ("hours past midnight", StallEdit(StallOpen { closes_min: u16::MAX, ..stall.clone() }).into()),
        ("a day 8 of the week", StallEdit(StallOpen { days: vec![8], ..stall.clone() }).into()),
    ];
    let lea_ops: Vec<(&str, Op)> = vec![
        (
            "a quantity of i64::MAX",
            OrderPlace {
                id: "o1".into(),
                stall_id: "stall".into(),
                lines: vec![OrderLine { product_id: "apples".into(), quantity: i64::MAX }],
                pickup_day: None,
                note: String::new(),
            }
            .into(),
        ),
        (
            "10 000 order lines",
            OrderPlace {
                id: "o2".into(),
                stall_id: "stall".into(),
                lines: vec![OrderLine { product_id: "apples".into(), quantity: 1 }; 10_000],
                pickup_day: None,
                note: String::new(),
            }
            .into(),
        ),
        (
            "a loan in the year 2199",
            LoanRequest {
                id: "l1".into(),
                item_id: "x".into(),
                first_day: far,
                last_day: far,
                note: String::new(),
            }
            .into(),
        ),
        ("an invitation for u32::MAX people", invitation("i1", "code", u32::MAX).into()),
        (
            "an invitation valid until i64::MAX",
            InvitationCreate { expires_at: i64::MAX, ..invitation("i2", "c", 1) }.into(),
        ),
        ("a favour title of 100 000 characters", ask("f1", &huge).into()),
    ];
    for (phone, ops) in [(&mut h.tom, tom_ops), (&mut h.lea, lea_ops)] {
        for (what, op) in ops {
            let m = phone.mutation(&nid, op);
            let response = server.push(phone, std::slice::from_ref(&m)).await;
            let (status, text) = clear(response, what).await;
            if status == StatusCode::OK {
                let answer: PushResponse = serde_json::from_str(&text).unwrap();
                match &answer.results[0].outcome {
                    Outcome::Rejected { message, .. } => assert!(message.ends_with('.'), "{what}: {message}"),
                    Outcome::Applied => panic!("{what} was applied"),
                }
            } else {
                assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{what}: {text}");
                phone.seq -= 1;
            }
        }
    }
    // A day out of the accepted range does not even decode: a 400 that says the range.
    for day in ["9999-12-31", "1969-12-31", "2026-02-30", "-2026-01-01"] {
        let m = h.lea.mutation(
            &nid,
            LoanRequest {
                id: "l2".into(),
                item_id: "x".into(),
                first_day: far,
                last_day: far,
                note: String::new(),
            },
        );
        let mut wire = serde_json::to_value(&m).unwrap();
        wire["args"]["first_day"] = day.into();
        let response = server
            .http
            .post(server.url("/v1/push"))
            .bearer_auth(&h.lea.token)
            .json(&serde_json::json!({ "mutations": [wire] }))
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains("2000-01-01 and 2200-12-31"), "{day}: {message}");
        h.lea.seq -= 1;
    }
    let replica = server.replica(&h.mona, &nid).await;
    match replica.get(EntityKind::Product, "apples") {
        Some(Entity::Product(p)) => {
            assert_eq!((p.price_cents, p.stock, p.reserved, p.name.as_str()), (300, 10, 0, "Apples"))
        }
        other => panic!("{other:?}"),
    }
}

on_both_backends!(
    every_endpoint_answers_any_body_clearly,
    mutations_at_the_limits_are_refused_with_a_sentence
);
