use serde_json::json;

use crate::helpers::{
    PASSWORD, assert_one_registration_wins, assert_problem, field_errors, spawn_app, username,
};

#[tokio::test]
async fn register_returns_201_with_the_user_and_no_session() {
    let app = spawn_app().await;
    let res = app.register("  Alice ", PASSWORD).await;
    assert_eq!(res.status(), 201);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no session on register"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let user: serde_json::Value = res.json().await.expect("json");
    assert_eq!(user["username"], "Alice");
    assert!(user["id"].as_i64().is_some_and(|id| id > 0));
    let created = user["created_at"].as_str().expect("created_at");
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    let keys: Vec<&String> = user.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["created_at", "id", "username"], "never a hash");
    assert_eq!(app.get("/api/me").await.status(), 401);
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively_and_after_nfkc() {
    let app = spawn_app().await;
    assert_eq!(app.register("Zoë", PASSWORD).await.status(), 201);
    for same in ["zoë", "ZOË", "Zoe\u{308}", "Ｚｏë", " zoë "] {
        let res = app.register(same, PASSWORD).await;
        assert_problem(res, 409, "username_taken").await;
    }
    // The form registered is the one shown, whatever case logs in.
    let res = app.login("ZOE\u{308}", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let user: serde_json::Value = res.json().await.expect("json");
    assert_eq!(user["username"], "Zoë");
}

#[tokio::test]
async fn invalid_fields_are_listed_with_stable_codes() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({}),
            vec![("username", "required"), ("password", "required")],
        ),
        (
            // No field is nullable: null is a value of the wrong type, not an absent field.
            json!({"username": null, "password": PASSWORD}),
            vec![("username", "invalid_type")],
        ),
        (
            json!({"username": "ok_name", "password": PASSWORD, "remember": true}),
            vec![("remember", "unknown_field")],
        ),
        (
            json!({"username": "", "password": PASSWORD}),
            vec![("username", "required")],
        ),
        (
            json!({"username": "ab", "password": PASSWORD}),
            vec![("username", "too_short")],
        ),
        (
            json!({"username": "a".repeat(33), "password": PASSWORD}),
            vec![("username", "too_long")],
        ),
        (
            json!({"username": "bad name", "password": PASSWORD}),
            vec![("username", "invalid_characters")],
        ),
        (
            json!({"username": "-dash", "password": PASSWORD}),
            vec![("username", "invalid_characters")],
        ),
        (
            json!({"username": "ok_name", "password": "short"}),
            vec![("password", "too_short")],
        ),
        (
            json!({"username": "ok_name", "password": "x".repeat(129)}),
            vec![("password", "too_long")],
        ),
        (
            json!({"username": "ok_name", "password": "password123"}),
            vec![("password", "too_weak")],
        ),
        (
            json!({"username": "ab", "password": "short"}),
            vec![("username", "too_short"), ("password", "too_short")],
        ),
        (
            json!({"username": 42, "password": PASSWORD}),
            vec![("username", "invalid_type")],
        ),
        (
            json!({"username": "ok_name", "password": ["x"]}),
            vec![("password", "invalid_type")],
        ),
    ];
    for (body, expected) in cases {
        let res = app.post_json("/api/register", &body).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(f, c)| (f.to_owned(), c.to_owned()))
            .collect();
        assert_eq!(field_errors(&problem), expected, "{body}");
        for e in problem["errors"].as_array().expect("errors") {
            assert!(!e["message"].as_str().expect("message").is_empty());
        }
    }
}

#[tokio::test]
async fn weak_password_message_carries_advice_and_the_username_counts() {
    let app = spawn_app().await;
    let name = "rumpelstiltskin";
    let res = app.register(name, "rumpelstiltskin2").await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "too_weak");
    let message = problem["errors"][0]["message"].as_str().expect("message");
    assert!(message.len() > 40, "advice expected: {message}");
}

#[tokio::test]
async fn passwords_are_taken_exactly_as_sent() {
    let app = spawn_app().await;
    let name = username("spaces");
    let padded = format!("  {PASSWORD}  ");
    assert_eq!(app.register(&name, &padded).await.status(), 201);
    assert_problem(app.login(&name, PASSWORD).await, 401, "invalid_credentials").await;
    assert_eq!(app.login(&name, &padded).await.status(), 200);
}

#[tokio::test]
async fn concurrent_registrations_of_one_name_give_exactly_one_201() {
    let app = spawn_app().await;
    // Different spellings of one normalized name race each other.
    let attempts = (0..24)
        .map(|i| {
            let name = if i % 2 == 0 { "RaceName" } else { "racename" };
            (app.url("/api/register"), name.to_owned())
        })
        .collect();
    assert_one_registration_wins(attempts).await;
}

#[tokio::test]
async fn a_full_hash_queue_is_503_server_busy_with_retry_after() {
    use crate::helpers::{Options, spawn_with};
    // One hashing thread, no waiting room, and a slow hash: concurrent registrations overflow.
    let app = spawn_with(
        Options::default()
            .arg("--hash-threads", "1")
            .arg("--hash-queue", "0")
            .arg("--pbkdf2-iterations", "3000000"),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let client = app.fresh_client();
        let url = app.url("/api/register");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"username": format!("busy{i}"), "password": PASSWORD}))
                .send()
                .await
                .expect("request")
        }));
    }
    let mut created = 0;
    let mut busy = 0;
    for t in tasks {
        let res = t.await.expect("join");
        match res.status().as_u16() {
            201 => created += 1,
            503 => {
                let retry: u64 = res.headers()["retry-after"]
                    .to_str()
                    .expect("ascii")
                    .parse()
                    .expect("integer seconds");
                assert!(retry >= 1);
                assert_problem(res, 503, "server_busy").await;
                busy += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(created >= 1, "someone got through");
    assert!(busy >= 1, "someone was refused");
}
