use proptest::prelude::*;

use super::*;

fn spec() -> FeedSpec {
    FeedSpec::new(vec![
        ("username".into(), "userName".into()),
        ("email".into(), "email".into()),
        ("firstname".into(), "givenName".into()),
        ("active".into(), ACTIVE.into()),
        ("branches".into(), GROUPS.into()),
    ])
}

fn learner(values: &[(&str, &str)], active: bool, groups: &[&str]) -> FeedLearner {
    FeedLearner {
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        active,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

#[test]
fn the_feed_is_sorted_by_its_first_column_with_words_and_groups() {
    let learners = [
        learner(
            &[
                ("userName", "zoe"),
                ("email", "z@x.example"),
                ("givenName", "Zoë"),
            ],
            true,
            &["Sales", "EMEA"],
        ),
        learner(
            &[("userName", "ann"), ("givenName", "Ann, \"A\"\nsecond line")],
            false,
            &[],
        ),
        learner(
            &[("userName", "bo"), ("email", "=1+1"), ("title", "not a column")],
            true,
            &["x"],
        ),
    ];
    let text = String::from_utf8(write_feed(&spec(), &learners)).unwrap();
    assert_eq!(
        text,
        "username,email,firstname,active,branches\r\n\
         ann,,\"Ann, \"\"A\"\"\nsecond line\",0,\r\n\
         bo,=1+1,,1,x\r\n\
         zoe,z@x.example,Zoë,1,Sales|EMEA\r\n"
    );
    let back = read_feed(text.as_bytes(), &spec()).unwrap();
    let mut bo = learners[2].clone();
    bo.values.remove("title");
    assert_eq!(back, vec![learners[1].clone(), bo, learners[0].clone()]);
}

#[test]
fn an_lms_export_is_read_with_the_same_spec() {
    // The LMS's own export: its column order and case, more columns, its
    // active word capitalised, semicolons, a BOM and a trailing blank line.
    let text = "\u{FEFF}ID;Email;UserName;FirstName;Branches;Active;Last Login\r\n\
                17;a@x.example;ann;Ann;Sales|;Inactive;2026-01-01\r\n\r\n";
    let mut spec = spec();
    spec.active_words = ("active".into(), "inactive".into());
    let learners = read_feed(text.as_bytes(), &spec).unwrap();
    assert_eq!(
        learners,
        vec![learner(
            &[
                ("userName", "ann"),
                ("email", "a@x.example"),
                ("givenName", "Ann")
            ],
            false,
            &["Sales"]
        )]
    );
}

#[test]
fn a_feed_missing_a_column_or_with_a_strange_word_is_refused() {
    let error = read_feed(b"username,email,firstname,branches\nann,,,\n", &spec()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1: the header has no column \"active\" (for the field \"active\"); \
         it has: username, email, firstname, branches"
    );
    let error = read_feed(b"username,email,firstname,active,branches\nann,,,yes,\n", &spec()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 2, column \"active\": \"yes\" is not \"1\" or \"0\""
    );
    let error = read_feed(b"username,email,firstname,active,branches\nann,,\n", &spec()).unwrap_err();
    assert_eq!(error.to_string(), "line 2: has 3 fields where the header has 5");
}

#[test]
fn without_an_active_column_everyone_is_active() {
    let spec = FeedSpec::new(vec![("username".into(), "userName".into())]);
    let learners = [learner(&[("userName", "ann")], true, &[])];
    let bytes = write_feed(&spec, &learners);
    assert_eq!(bytes, b"username\r\nann\r\n");
    assert_eq!(read_feed(&bytes, &spec).unwrap(), learners);
}

fn arbitrary_learner() -> impl Strategy<Value = FeedLearner> {
    let value = "\\PC+|.+|[\"',;|\\t\\r\\n =+@-]{1,4}";
    (
        value,
        prop::collection::btree_map(prop::sample::select(vec!["email", "givenName"]), value, 0..3),
        any::<bool>(),
        prop::collection::vec("[^|]+", 0..4),
    )
        .prop_map(|(user, mut values, active, groups)| {
            let mut values: BTreeMap<String, String> = values
                .iter_mut()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            values.insert("userName".into(), user);
            FeedLearner {
                values,
                active,
                groups,
            }
        })
}

proptest! {
    /// Whatever text the learners hold, reading the feed back gives them again,
    /// in the feed's order.
    #[test]
    fn write_then_read_round_trips(learners in prop::collection::vec(arbitrary_learner(), 0..12)) {
        let spec = spec();
        let back = read_feed(&write_feed(&spec, &learners), &spec).unwrap();
        let mut expected = learners.clone();
        expected.sort_by(|a, b| a.values["userName"].cmp(&b.values["userName"]));
        prop_assert_eq!(back, expected);
    }
}
