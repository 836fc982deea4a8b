//! Sign-up, sign-in, token issuance and refresh, the bearer-token check, sessions, bootstrap.

mod bootstrap;
mod caller;
mod issue;
mod refresh;
mod sessions;
mod sign_in;
mod sign_up;

pub use bootstrap::Bootstrap;
pub use caller::Caller;
pub use issue::IssuedTokens;
pub(crate) use issue::Opening;
pub use sign_in::{Identifier, SignIn};
pub use sign_up::{SignUp, SignedUp};
