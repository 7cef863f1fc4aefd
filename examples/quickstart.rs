//! Issue, verify, renew, rotate and revoke sessions, printing each step.
//!
//! Run with `cargo run --example quickstart`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera::{Error, Issuer, Keyset, Policy, Session};

/// The application's own session data: anything serde can handle.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    roles: Vec<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Times are passed explicitly so the walk-through is reproducible;
    // `issue`, `verify` and `renew` use the system clock instead.
    let t0: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    let policy = Policy::default()
        .idle_timeout(Duration::from_secs(30 * 60))
        .max_lifetime(Duration::from_secs(12 * 3600))
        .audience("quickstart-api");

    // 1. The auth service holds the keyset; API servers get only a verifier.
    let mut keys = Keyset::generate();
    let issuer = Issuer::new(keys.clone(), policy.clone());
    let verifier = issuer.verifier();
    println!("1. generated keyset {keys:?}");

    // 2. Issue a session.
    let claims = Claims {
        roles: vec!["reader".into()],
    };
    let token = issuer.issue_at("alice@example.com", &claims, t0)?;
    println!("2. issued a {}-character token: {token}", token.len());

    // 3. Verify it on an API server.
    let session: Session<Claims> = verifier.verify_at(&token, t0 + 60)?;
    println!(
        "3. verified: subject {}, roles {:?}, expires at +{}s, deadline at +{}s",
        session.subject(),
        session.data().roles,
        session.expires_at() - t0,
        session.deadline() - t0
    );

    // 4. Sliding expiry: renew once more than half the idle window is used.
    let later = t0 + 20 * 60;
    println!(
        "4. needs renewal at +60s? {}; at +20min? {}",
        session.needs_renewal_at(t0 + 60),
        session.needs_renewal_at(later)
    );
    let renewed_token = issuer.renew_at(&session, later)?;
    let renewed: Session<Claims> = verifier.verify_at(&renewed_token, later)?;
    println!(
        "   renewed: same session id ({}), expiry moved to +{}s, deadline still +{}s",
        renewed.id() == session.id(),
        renewed.expires_at() - t0,
        renewed.deadline() - t0
    );

    // 5. Rotate keys: add (verifiers learn it), then promote (it signs).
    let old = keys.primary();
    let new = keys.add();
    let fleet_verifier = tessera::Verifier::new(keys.verifier_keyset(), policy.clone());
    keys.promote(new)?;
    let rotated_issuer = Issuer::new(keys.clone(), policy.clone());
    let new_token = rotated_issuer.issue_at("bob@example.com", &claims, later)?;
    let old_still_ok = fleet_verifier.verify_at::<Claims>(&renewed_token, later)?;
    let new_ok = fleet_verifier.verify_at::<Claims>(&new_token, later)?;
    println!(
        "5. rotated {old} -> {new}: old token verifies under key {}, new token under key {}",
        old_still_ok.key_id(),
        new_ok.key_id()
    );

    // 6. Revoke: the session and every renewal of it are rejected.
    fleet_verifier.revoke(&renewed);
    for (name, t) in [("original", &token), ("renewed", &renewed_token)] {
        match fleet_verifier.verify_at::<Claims>(t, later) {
            Err(Error::Revoked) => println!("6. {name} token rejected: {}", Error::Revoked),
            other => return Err(format!("expected a revoked session, got {other:?}").into()),
        }
    }

    // 7. Retire the old key once its tokens are past their deadline.
    keys.retire(old)?;
    let after = tessera::Verifier::new(keys.verifier_keyset(), policy);
    match after.verify_at::<Claims>(&renewed_token, later) {
        Err(e) => println!("7. retired key {old}: its tokens now fail with \"{e}\""),
        Ok(_) => return Err("a retired key's token verified".into()),
    }
    Ok(())
}
