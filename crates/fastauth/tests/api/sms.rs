//! Phone codes through each SMS provider, against stubs that check requests as the real APIs do.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::stub::{Recorded, Stub};
use crate::support::{PASSWORD, TestApp, assert_problem, unique_email};

/// A valid Indian mobile number no other test uses.
fn unique_phone() -> String {
    let digits: String = uuid::Uuid::new_v4().as_bytes()[..8].iter().map(|b| char::from(b'0' + b % 10)).collect();
    format!("+9197{digits}")
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Twilio's Messages API: basic auth, To/From/Body form fields, 201 with a message resource.
fn twilio_messages(r: &Recorded) -> (u16, String) {
    if r.header("authorization") != Some(basic("AC123", "twilio-token").as_str()) {
        return (401, json!({"code": 20003, "message": "Authenticate", "status": 401}).to_string());
    }
    let form = r.form();
    if r.method != "POST"
        || r.path != "/2010-04-01/Accounts/AC123/Messages.json"
        || ["To", "From", "Body"].iter().any(|f| !form.contains_key(*f))
    {
        return (400, json!({"code": 21604, "message": "A required parameter is missing", "status": 400}).to_string());
    }
    (201, json!({"sid": "SM1", "status": "queued", "to": form["To"]}).to_string())
}

fn code_of(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).expect("a 6-digit code").to_owned()
}

async fn signed_up_with_phone(app: &TestApp) -> (String, String) {
    let phone = unique_phone();
    let body = json!({"firstname": "Sam", "lastname": "Sms", "email": unique_email(), "phone_number": phone, "password": PASSWORD});
    let res = app.post("/signup", body).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.expect("json")["user_id"].as_str().expect("id").to_owned();
    (phone, id)
}

#[tokio::test]
async fn twilio_messages_carry_our_code_to_registered_numbers_only() {
    let stub = Stub::start(twilio_messages).await;
    let vars = [
        ("DEFAULT_PHONE_REGION", "IN"),
        ("SMS_PROVIDER", "twilio"),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("TWILIO_AUTH_TOKEN", "twilio-token"),
        ("TWILIO_FROM", "+15005550006"),
        ("TWILIO_API_BASE", stub.url.as_str()),
    ];
    let app = TestApp::spawn_with(&vars).await;
    let (phone, id) = signed_up_with_phone(&app).await;
    let res = app.post("/request-otp-phone", json!({"phone_number": phone})).await;
    assert_eq!(res.status(), 202);
    let known: Value = res.json().await.expect("json");
    // Registered numbers' codes go out in the background (a provider outage must not tell them
    // from unregistered ones).
    let sent = stub.wait_for(1).await;
    assert_eq!(sent.len(), 1);
    let form = sent[0].form();
    assert_eq!((form["To"].as_str(), form["From"].as_str()), (phone.as_str(), "+15005550006"));
    let code = code_of(&form["Body"]);
    let res = app.post("/verify-otp-phone", json!({"phone_number": phone, "otp": code})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!((body["status"].as_i64(), body["results"]["uuid"].as_str()), (Some(200), Some(id.as_str())));
    assert!(body["results"]["access_token"].is_string() && body["results"]["refresh_token"].is_string());

    let stranger = unique_phone();
    let res = app.post("/request-otp-phone", json!({"phone_number": stranger})).await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.expect("json"), known, "the same answer for unregistered numbers");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stub.requests().len(), 1, "and no SMS");
    assert_problem(
        app.post("/verify-otp-phone", json!({"phone_number": stranger, "otp": "123456"})).await,
        401,
        "invalid_otp",
    )
    .await;
}

#[tokio::test]
async fn a_provider_refusing_our_credentials_is_503_delivery_failed() {
    let stub = Stub::start(twilio_messages).await;
    let vars = [
        ("DEFAULT_PHONE_REGION", "IN"),
        ("SMS_PROVIDER", "twilio"),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("TWILIO_AUTH_TOKEN", "wrong"),
        ("TWILIO_FROM", "+15005550006"),
        ("TWILIO_API_BASE", stub.url.as_str()),
    ];
    let app = TestApp::spawn_with(&vars).await;
    let res = app.post("/request-otp-mobile", json!({"phone_number": unique_phone()})).await;
    assert_problem(res, 503, "delivery_failed").await;
    assert_eq!(stub.requests()[0].header("authorization"), Some(basic("AC123", "wrong").as_str()));
}

#[tokio::test]
async fn twilio_verify_makes_and_checks_the_code_and_mobile_sign_in_creates_a_passwordless_user() {
    let stub = Stub::start(|r: &Recorded| {
        if r.header("authorization") != Some(basic("AC123", "twilio-token").as_str()) {
            return (401, json!({"code": 20003, "status": 401}).to_string());
        }
        let form = r.form();
        match r.path.as_str() {
            "/v2/Services/VA9/Verifications"
                if form.get("Channel").map(String::as_str) == Some("sms") && form.contains_key("To") =>
            {
                (201, json!({"sid": "VE1", "status": "pending", "to": form["To"]}).to_string())
            }
            "/v2/Services/VA9/VerificationCheck" if form.contains_key("To") => {
                let approved = form.get("Code").map(String::as_str) == Some("424242");
                (200, json!({"status": if approved { "approved" } else { "pending" }}).to_string())
            }
            _ => (404, json!({"code": 20404, "status": 404}).to_string()),
        }
    })
    .await;
    let vars = [
        ("DEFAULT_PHONE_REGION", "IN"),
        ("SMS_PROVIDER", "twilio-verify"),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("TWILIO_AUTH_TOKEN", "twilio-token"),
        ("TWILIO_SERVICE_ID", "VA9"),
        ("TWILIO_API_BASE", stub.url.as_str()),
    ];
    let app = TestApp::spawn_with(&vars).await;
    let phone = unique_phone();
    assert_eq!(app.post("/request-otp-mobile", json!({"phone_number": phone})).await.status(), 202);
    assert_eq!(stub.requests()[0].form()["To"], phone);
    assert_problem(
        app.post("/verify-otp-mobile", json!({"phone_number": phone, "otp": "111111"})).await,
        401,
        "invalid_otp",
    )
    .await;
    let res = app.post("/verify-otp-mobile", json!({"phone_number": phone, "otp": "424242"})).await;
    assert_eq!(res.status(), 200);
    let first: Value = res.json().await.expect("json");
    assert_eq!(first["results"]["new_user"], true);
    let checks: Vec<_> = stub.requests().into_iter().filter(|r| r.path.ends_with("VerificationCheck")).collect();
    assert_eq!(checks.last().expect("check").form()["Code"], "424242");
    let again = app
        .app
        .core
        .store
        .find_user_by_phone(&fastauth_core::phone::PhoneNumber::parse(&phone, None).expect("phone"))
        .await
        .expect("q")
        .expect("created");
    assert!(again.phone_verified_at.is_some() && again.password_hash.is_none());
    assert_eq!(again.id.to_string(), first["results"]["uuid"].as_str().expect("uuid"));
}

#[tokio::test]
async fn a_failing_provider_fails_over_to_the_next_and_the_webhook_is_signed() {
    let stub = Stub::start(|r: &Recorded| match r.path.as_str() {
        "/v1/KSID/messages" => (500, json!({"error": "down"}).to_string()),
        "/sms-hook" => (200, "{}".to_owned()),
        _ => (404, "{}".to_owned()),
    })
    .await;
    let hook = format!("{}/sms-hook", stub.url);
    let vars = [
        ("DEFAULT_PHONE_REGION", "IN"),
        ("SMS_PROVIDER", "kaleyra,webhook"),
        ("SSO_KALEYRA_API_KEY", "kal-key"),
        ("SSO_KALEYRA_SID", "KSID"),
        ("SENDER_ID", "FSTATH"),
        ("TEMPLATE_ID", "1107"),
        ("MESSAGE_TEMPLATE", "Your code is {otp} - fastauth"),
        ("KALEYRA_API_BASE", stub.url.as_str()),
        ("SMS_WEBHOOK_URL", hook.as_str()),
        ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ];
    let app = TestApp::spawn_with(&vars).await;
    let phone = unique_phone();
    assert_eq!(app.post("/request-otp-mobile", json!({"phone_number": phone})).await.status(), 202);
    let sent = stub.requests();
    assert_eq!(sent.len(), 2);
    let kaleyra = sent[0].form();
    assert_eq!(sent[0].header("api-key"), Some("kal-key"));
    assert_eq!(
        (kaleyra["to"].as_str(), kaleyra["sender"].as_str(), kaleyra["template_id"].as_str()),
        (phone.as_str(), "FSTATH", "1107")
    );
    assert!(kaleyra["body"].starts_with("Your code is "));
    let webhook: Value = serde_json::from_str(&sent[1].body).expect("json");
    assert_eq!(webhook["to"], phone);
    let signature = sent[1].header("webhook-signature").expect("signed");
    let (id, ts) = (sent[1].header("webhook-id").expect("id"), sent[1].header("webhook-timestamp").expect("ts"));
    let expected = fastauth::signature::WebhookSecrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .expect("secret")
        .headers(id, ts.parse().expect("ts"), sent[1].body.as_bytes());
    assert_eq!(signature, expected[2].1);
    let code = webhook["code"].as_str().expect("code");
    let res = app.post("/verify-otp-mobile", json!({"phone_number": phone, "otp": code})).await;
    assert_eq!(res.status(), 200, "the code sent by the second provider verifies");
}

async fn webhook_app(stub: &Stub, extra: &[(&str, &str)]) -> TestApp {
    let hook = format!("{}/hook", stub.url);
    let mut vars =
        vec![("SMS_PROVIDER", "webhook"), ("SMS_WEBHOOK_URL", hook.as_str()), ("DEFAULT_PHONE_REGION", "IN")];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

#[tokio::test]
async fn sms_outside_the_allowed_countries_is_refused_and_audited() {
    let stub = Stub::start(|_: &Recorded| (200, "{}".to_owned())).await;
    let app = webhook_app(&stub, &[]).await;
    let res = app.post("/request-otp-mobile", json!({"phone_number": "+14155552671"})).await;
    let retry = res.headers().get("retry-after").is_some();
    assert_problem(res, 429, "sms_limit").await;
    assert!(retry);
    assert!(stub.requests().is_empty(), "nothing was sent");
    let hits = app.app.core.audit_events(None, Some("sms.limit_hit"), 10).await.expect("audit");
    assert_eq!(hits[0].details["reason"], "country");
    assert_eq!(app.post("/request-otp-mobile", json!({"phone_number": unique_phone()})).await.status(), 202);
}

#[tokio::test]
async fn the_daily_and_per_prefix_limits_stop_sending() {
    let stub = Stub::start(|_: &Recorded| (200, "{}".to_owned())).await;
    let app = webhook_app(&stub, &[("SMS_PREFIX_HOURLY_LIMIT", "1")]).await;
    let same_prefix = |last: u32| format!("+9197000{last:05}");
    assert_eq!(app.post("/request-otp-mobile", json!({"phone_number": same_prefix(1)})).await.status(), 202);
    assert_problem(app.post("/request-otp-mobile", json!({"phone_number": same_prefix(2)})).await, 429, "sms_limit")
        .await;
    assert_eq!(
        app.post("/request-otp-mobile", json!({"phone_number": "+919812300001"})).await.status(),
        202,
        "another prefix still works"
    );

    let daily = webhook_app(&stub, &[("SMS_DAILY_LIMIT", "2")]).await;
    for _ in 0..2 {
        assert_eq!(daily.post("/request-otp-mobile", json!({"phone_number": unique_phone()})).await.status(), 202);
    }
    assert_problem(daily.post("/request-otp-mobile", json!({"phone_number": unique_phone()})).await, 429, "sms_limit")
        .await;
}

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("claims");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

#[tokio::test]
async fn test_identities_get_no_sms_only_their_code_and_never_more_than_the_default_role() {
    let stub = Stub::start(|_: &Recorded| (200, "{}".to_owned())).await;
    let number = "+919999988888";
    let until = (time::OffsetDateTime::now_utc() + time::Duration::days(30)).date().to_string();
    let entry = format!("{number}:123456@mobile:{until}");
    let app = webhook_app(&stub, &[("OTP_TEST_NUMBERS", entry.as_str())]).await;
    let mobile = fastauth_core::model::Application {
        id: fastauth_core::ids::ClientId::parse("mobile").expect("id"),
        name: "Mobile".into(),
        allowed_origins: vec![],
    };
    app.app.core.store.ensure_application(&mobile).await.expect("app");

    assert_eq!(
        app.post("/request-otp-mobile", json!({"phone_number": number, "client_id": "mobile"})).await.status(),
        202
    );
    assert!(stub.requests().is_empty(), "nothing is sent to a test identity");
    assert_problem(
        app.post("/verify-otp-mobile", json!({"phone_number": number, "otp": "654321", "client_id": "mobile"})).await,
        401,
        "invalid_otp",
    )
    .await;
    let res =
        app.post("/verify-otp-mobile", json!({"phone_number": number, "otp": "123456", "client_id": "mobile"})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let access = body["results"]["access_token"].as_str().expect("token").to_owned();
    assert_eq!(claims_of(&access)["test"], true);

    // An admin gives the review account Super Admin: its test sessions still hold only DEFAULT_ROLE.
    let admin = app.admin().await.sign_in(&app).await;
    let super_admin = app.app.core.store.find_role_by_name("Super Admin", None).await.expect("q").expect("role").id;
    let uuid = body["results"]["uuid"].as_str().expect("uuid");
    let res = app
        .http
        .post(app.url(&format!("/update/{uuid}")))
        .bearer_auth(&admin.access)
        .json(&json!({"role_ids": [super_admin]}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let live: Value = app.post("/token", json!({"token": access})).await.json().await.expect("json");
    assert!(live["results"]["roles"].as_array().expect("roles").iter().all(|r| r["role_name"] == "Visitors"));
    assert_problem(app.get_with("/users", &access).await, 403, "forbidden").await;
    let refreshed: Value = app
        .post("/refresh-token", json!({"refresh_token": body["results"]["refresh_token"]}))
        .await
        .json()
        .await
        .expect("json");
    let after = claims_of(refreshed["access_token"].as_str().expect("token"));
    assert_eq!(
        (after["test"].as_bool(), after["permissions"].clone()),
        (Some(true), json!([])),
        "refresh keeps the limits"
    );
    let uses = app.app.core.audit_events(None, Some("otp.test_identity_used"), 10).await.expect("audit");
    assert_eq!(uses.len(), 3);

    // For another app the number is an ordinary number.
    assert_eq!(app.post("/request-otp-mobile", json!({"phone_number": number})).await.status(), 202);
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn a_test_identity_past_its_date_is_an_ordinary_number() {
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1)).date().to_string();
    let entry = format!("+919999977777:123456:{yesterday}");
    let app = TestApp::spawn_with(&[("OTP_TEST_NUMBERS", entry.as_str())]).await;
    assert_eq!(app.post("/request-otp-mobile", json!({"phone_number": "+919999977777"})).await.status(), 202);
    assert_problem(
        app.post("/verify-otp-mobile", json!({"phone_number": "+919999977777", "otp": "123456"})).await,
        401,
        "invalid_otp",
    )
    .await;
    assert!(app.app.core.audit_events(None, Some("otp.test_identity_used"), 10).await.expect("audit").is_empty());
}

#[tokio::test]
async fn a_new_phone_number_becomes_the_users_after_its_sms_code() {
    let stub = Stub::start(|_: &Recorded| (200, "{}".to_owned())).await;
    let app = webhook_app(&stub, &[]).await;
    let (old_phone, id) = signed_up_with_phone(&app).await;
    let user_id = fastauth_core::ids::UserId::parse(&id).expect("id");
    let email = app.app.core.store.find_user(&user_id).await.expect("q").expect("user").email.expect("email");
    let owner = crate::support::TestUser { id: id.clone(), email: email.to_string(), password: PASSWORD.to_owned() };
    let t = owner.sign_in(&app).await;
    let new_phone = unique_phone();
    let res = app
        .http
        .post(app.url(&format!("/update/{id}")))
        .bearer_auth(&t.access)
        .json(&json!({"phone_number": new_phone, "current_password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 202);
    let sent: Value = serde_json::from_str(&stub.requests().last().expect("sms").body).expect("json");
    assert_eq!(sent["to"], new_phone.as_str());
    let res = app.post("/verify-otp-phone", json!({"phone_number": new_phone, "otp": sent["code"]})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json")["results"]["uuid"], id.as_str());
    let me: Value = app.get_with("/me", &res_token(&app, &owner).await).await.json().await.expect("json");
    assert_eq!(me["results"]["phone_number"], new_phone.as_str());
    assert_problem(
        app.post("/signin", json!({"phone_number": old_phone, "password": PASSWORD})).await,
        401,
        "invalid_credentials",
    )
    .await;
}

/// A fresh access token (the first phone proof ended the earlier sessions).
async fn res_token(app: &TestApp, user: &crate::support::TestUser) -> String {
    user.sign_in(app).await.access
}

#[tokio::test]
async fn with_the_provider_down_registered_and_unknown_numbers_get_the_same_answer() {
    let stub = Stub::start(|_: &Recorded| (500, "{}".to_owned())).await;
    let app = webhook_app(&stub, &[]).await;
    let (phone, _) = signed_up_with_phone(&app).await;
    let known = app.post("/request-otp-phone", json!({"phone_number": phone})).await;
    let unknown = app.post("/request-otp-phone", json!({"phone_number": unique_phone()})).await;
    assert_eq!((known.status().as_u16(), unknown.status().as_u16()), (202, 202));
    assert_eq!(known.json::<Value>().await.expect("json"), unknown.json::<Value>().await.expect("json"));
    assert_eq!(stub.wait_for(1).await[0].path, "/hook", "the registered number's SMS was attempted");
}

#[tokio::test]
async fn a_prefix_where_codes_are_sent_but_not_verified_pauses_for_an_hour() {
    let stub = Stub::start(|_: &Recorded| (200, "{}".to_owned())).await;
    let app = webhook_app(&stub, &[("RATE_LIMITS", "off")]).await;
    // 200 codes to one prefix (+91 987…), none verified: pumping.
    for n in 0..200 {
        let res = app.post("/request-otp-mobile", json!({"phone_number": format!("+91987{n:07}")})).await;
        assert_eq!(res.status(), 202, "code {n}");
    }
    let res = app.post("/request-otp-mobile", json!({"phone_number": "+919870009999"})).await;
    let retry: u64 = res.headers()["retry-after"].to_str().expect("ascii").parse().expect("secs");
    assert!((3500..=3600).contains(&retry), "{retry}");
    assert_problem(res, 429, "sms_limit").await;
    let hits = app.app.core.audit_events(None, Some("sms.limit_hit"), 10).await.expect("audit");
    assert_eq!(hits[0].details["reason"], "conversion");
    assert_eq!(stub.requests().len(), 200, "the 201st was not sent");
    // Other prefixes are unaffected.
    assert_eq!(app.post("/request-otp-mobile", json!({"phone_number": "+919812345678"})).await.status(), 202);
}
