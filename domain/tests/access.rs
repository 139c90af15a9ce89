//! The authorization policy as a table: one row per caller, action and
//! expected answer.

use domain::access::{AccountKind, Action, Caller, Denied, EventTarget, authorize};
use domain::identity::UserId;
use uuid::Uuid;

const ALICE_DID: &str = "did:plc:alice";
const BOB_DID: &str = "did:plc:bob";

fn alice() -> UserId {
    UserId(Uuid::from_u128(1))
}

fn bob() -> UserId {
    UserId(Uuid::from_u128(2))
}

fn caller(user_id: UserId, did: &str) -> Caller {
    Caller {
        user_id,
        did: did.into(),
        kind: AccountKind::Full,
        active: true,
        admin: false,
    }
}

fn as_alice() -> Caller {
    caller(alice(), ALICE_DID)
}

fn admin() -> Caller {
    Caller {
        admin: true,
        ..caller(UserId(Uuid::from_u128(9)), "did:plc:admin")
    }
}

fn shadow_alice() -> Caller {
    Caller {
        kind: AccountKind::Shadow,
        ..as_alice()
    }
}

fn inactive_alice() -> Caller {
    Caller {
        active: false,
        ..as_alice()
    }
}

fn local(owner: UserId) -> EventTarget {
    EventTarget {
        owner: Some(owner),
        imported: false,
        visible: true,
    }
}

fn imported(owner: UserId) -> EventTarget {
    EventTarget {
        imported: true,
        ..local(owner)
    }
}

fn hidden(owner: UserId) -> EventTarget {
    EventTarget {
        visible: false,
        ..imported(owner)
    }
}

#[test]
fn the_policy_table() {
    let rows: Vec<(&str, Caller, Action, Result<(), Denied>)> = vec![
        (
            "owner edits own event",
            as_alice(),
            Action::Edit(local(alice())),
            Ok(()),
        ),
        (
            "owner edits own import (manual edits are kept)",
            as_alice(),
            Action::Edit(imported(alice())),
            Ok(()),
        ),
        (
            "another user edits",
            as_alice(),
            Action::Edit(local(bob())),
            Err(Denied::NotOwner),
        ),
        (
            "an event without owner",
            as_alice(),
            Action::Edit(EventTarget {
                owner: None,
                ..local(bob())
            }),
            Err(Denied::NotOwner),
        ),
        (
            "admin edits anyone's event",
            admin(),
            Action::Edit(local(bob())),
            Ok(()),
        ),
        (
            "owner edits a hidden event",
            as_alice(),
            Action::Edit(hidden(alice())),
            Err(Denied::Hidden),
        ),
        (
            "admin edits a hidden event",
            admin(),
            Action::Edit(hidden(bob())),
            Ok(()),
        ),
        (
            "owner publishes",
            as_alice(),
            Action::Publish(local(alice())),
            Ok(()),
        ),
        (
            "owner publishes an import",
            as_alice(),
            Action::Publish(imported(alice())),
            Err(Denied::ReadOnly),
        ),
        (
            "another user publishes",
            as_alice(),
            Action::Publish(local(bob())),
            Err(Denied::NotOwner),
        ),
        (
            "admin publishes into another's repo",
            admin(),
            Action::Publish(local(bob())),
            Err(Denied::NotOwner),
        ),
        (
            "owner changes settings",
            as_alice(),
            Action::ChangeBlueskySettings(local(alice())),
            Ok(()),
        ),
        (
            "another user changes settings",
            as_alice(),
            Action::ChangeBlueskySettings(local(bob())),
            Err(Denied::NotOwner),
        ),
        (
            "settings of an import",
            as_alice(),
            Action::ChangeBlueskySettings(imported(alice())),
            Err(Denied::ReadOnly),
        ),
        (
            "RSVP for oneself to another's import",
            as_alice(),
            Action::Rsvp {
                event: imported(bob()),
                attendee: alice(),
            },
            Ok(()),
        ),
        (
            "RSVP for another user",
            as_alice(),
            Action::Rsvp {
                event: imported(bob()),
                attendee: bob(),
            },
            Err(Denied::OnBehalfOfAnother),
        ),
        (
            "admin RSVPs for another user",
            admin(),
            Action::Rsvp {
                event: local(bob()),
                attendee: bob(),
            },
            Err(Denied::OnBehalfOfAnother),
        ),
        (
            "RSVP to a hidden event",
            as_alice(),
            Action::Rsvp {
                event: hidden(bob()),
                attendee: alice(),
            },
            Err(Denied::Hidden),
        ),
        (
            "claim own DID",
            as_alice(),
            Action::Claim { did: ALICE_DID },
            Ok(()),
        ),
        (
            "claim another DID",
            as_alice(),
            Action::Claim { did: BOB_DID },
            Err(Denied::NotYourDid(BOB_DID.into())),
        ),
        (
            "admin claims another DID",
            admin(),
            Action::Claim { did: BOB_DID },
            Err(Denied::NotYourDid(BOB_DID.into())),
        ),
        (
            "review own proposal",
            as_alice(),
            Action::ReviewProposal {
                organizer: ALICE_DID,
            },
            Ok(()),
        ),
        (
            "review another's proposal",
            as_alice(),
            Action::ReviewProposal { organizer: BOB_DID },
            Err(Denied::NotOwner),
        ),
        (
            "admin reviews any proposal",
            admin(),
            Action::ReviewProposal { organizer: BOB_DID },
            Ok(()),
        ),
        (
            "list all proposals",
            as_alice(),
            Action::ListAllProposals,
            Err(Denied::AdminOnly),
        ),
        (
            "admin lists all proposals",
            admin(),
            Action::ListAllProposals,
            Ok(()),
        ),
        (
            "process firehose messages",
            as_alice(),
            Action::ProcessFirehose,
            Err(Denied::AdminOnly),
        ),
        (
            "admin processes firehose messages",
            admin(),
            Action::ProcessFirehose,
            Ok(()),
        ),
        (
            "read the rejections",
            as_alice(),
            Action::ReadRejections,
            Err(Denied::AdminOnly),
        ),
        (
            "admin reads the rejections",
            admin(),
            Action::ReadRejections,
            Ok(()),
        ),
        (
            "create one's own series",
            as_alice(),
            Action::CreateOwned { owner: ALICE_DID },
            Ok(()),
        ),
        (
            "create a series for another",
            as_alice(),
            Action::CreateOwned { owner: BOB_DID },
            Err(Denied::ForAnother),
        ),
        (
            "the platform (an administrator) creates a series for an owner",
            admin(),
            Action::CreateOwned { owner: BOB_DID },
            Ok(()),
        ),
        (
            "list every account",
            as_alice(),
            Action::ListAccounts,
            Err(Denied::AdminOnly),
        ),
        (
            "admin lists every account",
            admin(),
            Action::ListAccounts,
            Ok(()),
        ),
        (
            "read one's own account's private fields",
            as_alice(),
            Action::ReadAccountPrivate { did: ALICE_DID },
            Ok(()),
        ),
        (
            "read another account's private fields",
            as_alice(),
            Action::ReadAccountPrivate { did: BOB_DID },
            Err(Denied::NotYourAccount),
        ),
        (
            "admin reads any account's private fields",
            admin(),
            Action::ReadAccountPrivate { did: BOB_DID },
            Ok(()),
        ),
        (
            "a shadow edits its own import",
            shadow_alice(),
            Action::Edit(imported(alice())),
            Err(Denied::ShadowAccount),
        ),
        (
            "a shadow RSVPs",
            shadow_alice(),
            Action::Rsvp {
                event: local(bob()),
                attendee: alice(),
            },
            Err(Denied::ShadowAccount),
        ),
        (
            "a shadow claims itself",
            shadow_alice(),
            Action::Claim { did: ALICE_DID },
            Err(Denied::ShadowAccount),
        ),
        (
            "an inactive account edits",
            inactive_alice(),
            Action::Edit(local(alice())),
            Err(Denied::Inactive),
        ),
        (
            "an inactive account RSVPs",
            inactive_alice(),
            Action::Rsvp {
                event: local(bob()),
                attendee: alice(),
            },
            Err(Denied::Inactive),
        ),
    ];
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|(name, caller, action, expected)| {
            let got = authorize(caller, *action);
            (got != *expected).then(|| format!("{name}: expected {expected:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
