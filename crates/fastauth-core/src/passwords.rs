//! Password changes: by the signed-in user with its current password, and by an emailed
//! single-use link for who forgot it.

use crate::auth::Caller;
use crate::email::Email;
use crate::error::Error;
use crate::model::User;
use crate::password::{PRODUCT_WORDS, Password};
use crate::ports::Mail;
use crate::service::{Core, RequestMeta};
use crate::tokens::opaque;

const BUILT_IN_RESET: &str = "<p>Someone asked to reset the password of your account.</p>\
<p><a href=\"{set_new_password_link}\">Set a new password</a> (the link works once, for 30 minutes).</p>\
<p>If it was not you, ignore this message; your password stays as it is.</p>";

impl Core {
    /// The signed-in user changes its password; its other sessions end, this one stays.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &Password,
        new: &Password,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        let user = &caller.user;
        if !self.check_current_password(user, current, meta).await? {
            self.audit(
                "signin.failed",
                meta,
                Some(&user.id),
                Some(&user.id),
                serde_json::json!({ "via": "reset-password" }),
            )
            .await;
            return Err(Error::InvalidCurrentPassword);
        }
        if current.normalized() == new.normalized() {
            return Err(Error::PasswordReused);
        }
        self.check_new_password(user, new, "new_password")?;
        let hash = self.hasher.hash(new).await?;
        self.store.change_password(&user.id, &hash, Some(&caller.session_id), meta.now).await?;
        self.audit("password.changed", meta, Some(&user.id), Some(&user.id), serde_json::json!({})).await;
        self.notify(
            user,
            "Your password was changed",
            "The password of your account was just changed. If it was not you, reset it at once.",
        );
        Ok(())
    }

    /// Emails a reset link to a known, active account. The answer is the same for unknown
    /// emails, and the link is stored and mailed in the background so that timing and delivery
    /// failures do not tell them apart either.
    pub async fn forget_password(
        &self,
        email: &Email,
        base_url: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        let base = match base_url.map(|b| b.trim().trim_end_matches('/')).filter(|b| !b.is_empty()) {
            Some(base) if self.is_allowed_reset_base(base) => base.to_owned(),
            Some(_) => return Err(Error::InvalidBaseUrl),
            None => self.settings.reset_base.clone(),
        };
        // One inbox gets at most a few links an hour, however many addresses ask.
        let identifier = crate::auth::Identifier::Email(email.clone());
        self.limit_identifier(crate::limits::RESET_LINKS, &identifier, meta).await?;
        let Some(user) =
            self.store.find_user_by_email(email).await?.filter(|u| u.status == crate::model::UserStatus::Active)
        else {
            return Ok(());
        };
        // The token is stored and mailed after the answer: a known address must not take longer.
        let (core, now) = (self.clone(), meta.now);
        self.after_answer(async move {
            if let Err(e) = core.send_reset_link(&user, &base, now).await {
                tracing::error!(error = %e, "could not issue a password reset link");
            }
        });
        Ok(())
    }

    async fn send_reset_link(&self, user: &User, base: &str, now: time::OffsetDateTime) -> Result<(), Error> {
        let Some(to) = user.email.clone() else { return Ok(()) };
        let (token, hash) = opaque::generate();
        self.store.create_reset_token(&user.id, &hash, now, now + self.settings.reset_ttl).await?;
        let link = format!("{base}/auth/reset-forget-password/{}", token.expose());
        let template = self.settings.reset_email_template.as_deref().unwrap_or(BUILT_IN_RESET);
        let mail = Mail {
            to,
            subject: "Reset your password".into(),
            text: format!(
                "Set a new password (the link works once, for 30 minutes): {link}\nIf it was not you, ignore this message."
            ),
            html: template.replace("{set_new_password_link}", &link),
        };
        self.mailer.send(&mail).await.map_err(|e| Error::Internal(e.context("sending the reset link")))
    }

    /// Sets a new password with a reset token: single use, every session ends.
    pub async fn reset_with_token(
        &self,
        token: &str,
        new: &Password,
        confirm: &Password,
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        if new.normalized() != confirm.normalized() {
            return Err(Error::invalid("confirm_password", "does not match new_password"));
        }
        let hash_of_token = opaque::hash(token);
        let user_id = self.store.find_reset_token(&hash_of_token, meta.now).await?.ok_or(Error::InvalidResetToken)?;
        let user = self.store.find_user(&user_id).await?.ok_or(Error::InvalidResetToken)?;
        self.check_new_password(&user, new, "new_password")?;
        let hash = self.hasher.hash(new).await?;
        // The token is claimed only now, in the same transaction as the change: a second use,
        // even a concurrent one, finds it taken.
        self.store.consume_reset_token(&hash_of_token, &hash, meta.now).await?.ok_or(Error::InvalidResetToken)?;
        self.audit("password.reset", meta, None, Some(&user.id), serde_json::json!({})).await;
        // The emailed link proved ownership: this is the recovery from a lock.
        self.unlock(&user).await?;
        self.notify(
            &user,
            "Your password was reset",
            "The password of your account was reset with an emailed link, and every session was ended.",
        );
        Ok(())
    }

    fn check_new_password(&self, user: &User, new: &Password, field: &str) -> Result<(), Error> {
        let email = user.email.as_ref();
        let mut context = vec![
            email.map_or("", Email::as_str),
            email.map_or("", |e| e.local_part()),
            &user.firstname,
            &user.lastname,
        ];
        context.extend(PRODUCT_WORDS);
        new.check_policy(field, &context)
    }

    fn is_allowed_reset_base(&self, base: &str) -> bool {
        let Some((scheme, rest)) = base.split_once("://") else { return false };
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let origin = format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase());
        !base.contains(['?', '#']) && self.settings.reset_origins.contains(&origin)
    }

    /// Tells the account's owner what happened, in the background.
    pub(crate) fn notify(&self, user: &User, subject: &str, text: &str) {
        if let Some(to) = user.email.clone() {
            self.send_later(Mail::notice(to, subject, text));
        }
    }

    /// Sends in the background, so that the answer (and its timing) does not depend on delivery;
    /// a failure is logged, never with the message body (it may hold a code or link).
    pub(crate) fn send_later(&self, mail: Mail) {
        let mailer = self.mailer.clone();
        self.after_answer(async move {
            if let Err(e) = mailer.send(&mail).await {
                tracing::error!(error = %e, subject = %mail.subject, "could not send an email");
            }
        });
    }
}
