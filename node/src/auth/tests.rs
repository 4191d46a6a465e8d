use super::*;

const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const PASSWORD: &str = "correct horse battery";

fn auth() -> Auth {
    Auth::with_store(Store::in_memory().unwrap()).unwrap()
}

#[test]
fn passwords_are_argon2id_hashes_and_only_the_right_one_verifies() {
    let auth = auth();
    auth.add_user("ann", Role::Member, &["films".into()], PASSWORD)
        .unwrap();
    let (_, hash) = auth.store().user_by_name("ann").unwrap().unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
    assert_eq!(
        auth.verify_password("ann", PASSWORD).unwrap().unwrap().name,
        "ann"
    );
    assert!(
        auth.verify_password("ann", "wrong horse battery")
            .unwrap()
            .is_none()
    );
    assert!(auth.verify_password("nobody", PASSWORD).unwrap().is_none());
    assert!(matches!(
        auth.add_user("bob", Role::Guest, &[], "short"),
        Err(Error::WeakPassword)
    ));
    assert!(matches!(
        auth.add_user("../x", Role::Guest, &[], PASSWORD),
        Err(Error::BadName(_))
    ));
    assert!(matches!(
        auth.add_user("ann", Role::Guest, &[], PASSWORD),
        Err(Error::Store(store::Error::UserExists(_)))
    ));
}

#[test]
fn sessions_and_tokens_are_stored_hashed_and_end_when_the_user_is_disabled() {
    let auth = auth();
    let ann = auth
        .add_user("ann", Role::Member, &["*".into()], PASSWORD)
        .unwrap();
    let session = auth.create_session(&ann, HOME).unwrap();
    let (token, _) = auth.create_token(&ann, "tv", &[Scope::Stream]).unwrap();
    assert!(
        token.starts_with("mow_") && token.len() >= 4 + 43,
        "{token}"
    );
    let principal = auth.session(&session.secret).unwrap().unwrap();
    assert!(principal.may(Scope::Read) && !principal.may(Scope::Admin));
    let by_token = auth.token(&token).unwrap().unwrap();
    assert!(by_token.may(Scope::Stream) && !by_token.may(Scope::Read));
    assert!(auth.session("not-a-session").unwrap().is_none());
    assert!(auth.token("mow_guess").unwrap().is_none());

    let patch = UserPatch {
        disabled: Some(true),
        ..UserPatch::default()
    };
    auth.update_user("ann", patch, None).unwrap();
    assert!(auth.session(&session.secret).unwrap().is_none());
    assert!(auth.token(&token).unwrap().is_none());
}

#[test]
fn a_password_change_ends_sessions_and_signed_urls() {
    let auth = auth();
    let ann = auth
        .add_user("ann", Role::Guest, &["*".into()], PASSWORD)
        .unwrap();
    let session = auth.create_session(&ann, HOME).unwrap();
    let url = auth.sign(&ann, 7, "hls/7/master.m3u8");
    let signature = url.split('/').nth(2).unwrap();
    assert_eq!(auth.verify_signature(signature, 7).unwrap().name, "ann");
    assert!(auth.verify_signature(signature, 8).is_err());
    auth.update_user("ann", UserPatch::default(), Some("a brand new password"))
        .unwrap();
    assert!(auth.session(&session.secret).unwrap().is_none());
    assert!(auth.verify_signature(signature, 7).is_err());
}

#[test]
fn the_setup_token_creates_one_admin_once() {
    let auth = auth();
    let token = auth.setup_token().unwrap().unwrap();
    assert!(
        auth.complete_setup("wrong", "root", PASSWORD)
            .unwrap()
            .is_none()
    );
    let admin = auth
        .complete_setup(&token, "root", PASSWORD)
        .unwrap()
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(
        auth.complete_setup(&token, "again", PASSWORD)
            .unwrap()
            .is_none()
    );
    assert!(
        auth.setup_token().unwrap().is_none(),
        "no setup once a user exists"
    );
}

#[test]
fn grants_decide_which_libraries_a_user_sees() {
    let auth = auth();
    let guest = auth
        .add_user("g", Role::Guest, &["films".into()], PASSWORD)
        .unwrap();
    assert!(guest.may_see("films") && !guest.may_see("home-videos"));
    let admin = auth.add_user("a", Role::Admin, &[], PASSWORD).unwrap();
    assert!(admin.may_see("home-videos"));
}

#[test]
fn a_stream_limit_refuses_one_item_too_many_and_frees_up_after_idle() {
    let auth = auth();
    let mut ann = auth
        .add_user("ann", Role::Member, &["*".into()], PASSWORD)
        .unwrap();
    assert!(
        auth.admit_stream(&ann, 1) && auth.admit_stream(&ann, 2),
        "no limit"
    );
    ann.max_streams = Some(1);
    ann.id += 1000; // a fresh bookkeeping slot for the limited user
    assert!(auth.admit_stream(&ann, 1));
    assert!(auth.admit_stream(&ann, 1), "more segments of the same item");
    assert!(!auth.admit_stream(&ann, 2), "a second item at once");
}

#[test]
fn positions_are_each_users_own_and_zero_forgets_one() {
    let auth = auth();
    let ann = auth
        .add_user("ann", Role::Guest, &["*".into()], "pw-ann-1234")
        .unwrap();
    let bob = auth
        .add_user("bob", Role::Member, &["*".into()], "pw-bob-1234")
        .unwrap();
    let store = auth.store();
    store.set_position(ann.id, 7, 42.5, 1000).unwrap();
    store.set_position(ann.id, 7, 50.0, 2000).unwrap();
    store.set_position(bob.id, 8, 3.0, 1500).unwrap();
    let mine = store.positions(ann.id).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[&7].position_s, 50.0);
    assert_eq!(mine[&7].updated_ms, 2000);
    store.set_position(ann.id, 7, 0.0, 3000).unwrap();
    assert!(store.positions(ann.id).unwrap().is_empty());
    assert_eq!(store.positions(bob.id).unwrap().len(), 1);
    assert!(auth.delete_user("bob").unwrap());
    assert!(
        store.positions(bob.id).unwrap().is_empty(),
        "gone with the user"
    );
}
