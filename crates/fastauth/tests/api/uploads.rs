//! Profile images on the local directory and on a real S3-compatible server (s3s-fs, which
//! checks SigV4 signatures).

use std::process::Stdio;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{Attribute, ObjectStoreExt};
use serde_json::{Value, json};

use crate::support::{TestApp, Tokens, assert_problem};

fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..len).map(|i| (i % 251) as u8));
    bytes
}

async fn upload(app: &TestApp, token: &str, query: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()).mime_str("image/png").expect("mime");
    let form = reqwest::multipart::Form::new().part("file", part);
    app.http
        .post(app.url(&format!("/upload-image{query}")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("send")
}

async fn profile_of(app: &TestApp, t: &Tokens) -> Value {
    let me: Value = app.get_with("/me", &t.access).await.json().await.expect("json");
    let id = me["results"]["uuid"].as_str().expect("uuid").to_owned();
    let user: Value = app.get_with(&format!("/get-userbyid/{id}"), &t.access).await.json().await.expect("json");
    user["results"][0]["source_profile"].clone()
}

#[tokio::test]
async fn images_are_stored_locally_served_back_and_set_as_profile() {
    let upload_dir = std::env::temp_dir().join(format!("fastauth-uploads-{}", uuid::Uuid::new_v4().simple()));
    let app = TestApp::spawn_with(&[("UPLOAD_DIR", upload_dir.to_str().expect("path"))]).await;
    let t = app.user().create().await.sign_in(&app).await;
    let image = png(3000);
    let res = upload(&app, &t.access, "?set_profile=true", "me.png", image.clone()).await;
    assert_eq!(res.status(), 201);
    let url = res.json::<Value>().await.expect("json")["image_url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&app.url("/uploads/profiles/")) && url.ends_with(".png"), "{url}");
    let served = app.http.get(&url).send().await.expect("get");
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.expect("bytes").to_vec(), image);
    assert_eq!(profile_of(&app, &t).await, json!(url));
    assert_eq!(std::fs::read_dir(upload_dir.join("profiles")).expect("dir").count(), 1);
    let big = png(1024 * 1024);
    let res = upload(&app, &t.access, "", "big.png", big.clone()).await;
    assert_eq!(res.status(), 201, "images up to UPLOAD_MAX_BYTES (5 MiB) pass the 64 KiB JSON limit");
    let url = res.json::<Value>().await.expect("json")["image_url"].as_str().expect("url").to_owned();
    assert_eq!(app.http.get(&url).send().await.expect("get").bytes().await.expect("bytes").len(), big.len());
}

#[tokio::test]
async fn the_type_is_judged_by_content_not_by_name() {
    let app = TestApp::spawn().await;
    let t = app.user().create().await.sign_in(&app).await;
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[0u8; 100]].concat();
    let res = upload(&app, &t.access, "", "holiday.png", jpeg).await;
    assert_eq!(res.status(), 201);
    let url = res.json::<Value>().await.expect("json")["image_url"].as_str().expect("url").to_owned();
    assert!(url.ends_with(".jpg"), "{url}");
    assert_eq!(app.http.get(&url).send().await.expect("get").headers()["content-type"], "image/jpeg");
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    assert_problem(upload(&app, &t.access, "", "cat.png", html).await, 415, "unsupported_media_type").await;
    assert_problem(
        app.http.get(app.url("/uploads/profiles/..%2F..%2Fkek")).send().await.expect("get"),
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn files_over_the_limit_are_413_and_uploads_need_a_signed_in_user() {
    let app = TestApp::spawn_with(&[("UPLOAD_MAX_BYTES", "2048")]).await;
    let t = app.user().create().await.sign_in(&app).await;
    assert_problem(upload(&app, &t.access, "", "big.png", png(4000)).await, 413, "payload_too_large").await;
    assert_problem(upload(&app, &t.access, "", "huge.png", png(2_000_000)).await, 413, "payload_too_large").await;
    assert_eq!(upload(&app, &t.access, "", "ok.png", png(1000)).await.status(), 201);
    assert_problem(upload(&app, "not-a-token", "", "ok.png", png(10)).await, 401, "invalid_token").await;
    let res = app
        .http
        .post(app.url("/upload-image"))
        .bearer_auth(&t.access)
        .json(&json!({"file": "x"}))
        .send()
        .await
        .expect("send");
    assert_problem(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn a_deleted_users_image_is_deleted_too() {
    let upload_dir = std::env::temp_dir().join(format!("fastauth-uploads-{}", uuid::Uuid::new_v4().simple()));
    let app = TestApp::spawn_with(&[("UPLOAD_DIR", upload_dir.to_str().expect("path"))]).await;
    let admin = app.admin().await.sign_in(&app).await;
    let user = app.user().create().await;
    let t = user.sign_in(&app).await;
    let url = upload(&app, &t.access, "?set_profile=true", "a.png", png(100))
        .await
        .json::<Value>()
        .await
        .expect("json")["image_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(app.http.get(&url).send().await.expect("get").status(), 200);
    let res = app
        .http
        .delete(app.url(&format!("/delete-user?uuid={}", user.id)))
        .bearer_auth(&admin.access)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert_eq!(app.http.get(&url).send().await.expect("get").status(), 404);
    assert_eq!(std::fs::read_dir(upload_dir.join("profiles")).expect("dir").count(), 0);
}

/// A real S3-compatible server on loopback, stopped when dropped.
struct S3Server {
    port: u16,
    data: std::path::PathBuf,
    _child: tokio::process::Child,
}

impl S3Server {
    async fn start() -> Self {
        let bin = std::env::var("FASTAUTH_TEST_S3FS").unwrap_or_else(|_| {
            format!("{}/.cache/fastauth/tools/bin/s3s-fs", std::env::var("HOME").unwrap_or_default())
        });
        let data = std::env::temp_dir().join(format!("fastauth-s3-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(data.join("avatars")).expect("bucket dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let child = tokio::process::Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                "test-key",
                "--secret-key",
                "test-secret",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{bin} is needed (scripts/test installs s3s-fs): {e}"));
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self { port, data, _child: child }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[tokio::test]
async fn images_reach_a_real_s3_server_with_their_content_type_and_the_url_names_them() {
    let s3 = S3Server::start().await;
    let endpoint = s3.endpoint();
    let public = "https://cdn.example.com/avatars";
    let vars = [
        ("AWS_S3_BUCKET", "avatars"),
        ("S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test-key"),
        ("AWS_SECRET_ACCESS_KEY", "test-secret"),
        ("S3_PUBLIC_URL", public),
    ];
    let app = TestApp::spawn_with(&vars).await;
    let t = app.user().create().await.sign_in(&app).await;
    let image = png(5000);
    let res = upload(&app, &t.access, "?set_profile=true", "x.bin", image.clone()).await;
    assert_eq!(res.status(), 201);
    let url = res.json::<Value>().await.expect("json")["image_url"].as_str().expect("url").to_owned();
    let key = url.strip_prefix(&format!("{public}/")).expect("the URL is S3_PUBLIC_URL plus the key");
    // Read it back as any S3 client would, with a signed request.
    let client = AmazonS3Builder::new()
        .with_bucket_name("avatars")
        .with_region("us-east-1")
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_access_key_id("test-key")
        .with_secret_access_key("test-secret")
        .build()
        .expect("client");
    let object = client.get(&Path::parse(key).expect("key")).await.expect("object exists");
    assert_eq!(object.attributes.get(&Attribute::ContentType).map(|v| v.to_string()).as_deref(), Some("image/png"));
    assert_eq!(object.bytes().await.expect("bytes").to_vec(), image);
    assert!(s3.data.join("avatars").join(key).exists(), "the object is on the server's disk");
    assert_eq!(profile_of(&app, &t).await, json!(url));
}

#[tokio::test]
async fn a_storage_outage_is_503_and_leaves_the_profile_as_it_was() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let endpoint = format!("http://127.0.0.1:{closed}");
    let vars = [
        ("AWS_S3_BUCKET", "avatars"),
        ("S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "k"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    let app = TestApp::spawn_with(&vars).await;
    let t = app.user().create().await.sign_in(&app).await;
    let before = profile_of(&app, &t).await;
    assert_problem(upload(&app, &t.access, "?set_profile=true", "a.png", png(100)).await, 503, "unavailable").await;
    assert_eq!(profile_of(&app, &t).await, before);
}

#[tokio::test]
async fn a_wrong_s3_secret_is_refused_by_the_server() {
    let s3 = S3Server::start().await;
    let endpoint = s3.endpoint();
    let vars = [
        ("AWS_S3_BUCKET", "avatars"),
        ("S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test-key"),
        ("AWS_SECRET_ACCESS_KEY", "wrong"),
    ];
    let app = TestApp::spawn_with(&vars).await;
    let t = app.user().create().await.sign_in(&app).await;
    assert_problem(upload(&app, &t.access, "", "a.png", png(100)).await, 503, "unavailable").await;
    assert_eq!(std::fs::read_dir(s3.data.join("avatars")).expect("dir").count(), 0);
}
