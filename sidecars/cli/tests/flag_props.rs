//! Arbitrary command lines never panic the flag parser, and what it returns is consistent.

use csc_cli::flag::{FlagSpec, Flags, Positionals};
use proptest::prelude::*;

const SPECS: [FlagSpec<'static>; 3] = [
    FlagSpec {
        bools: &["simulate", "h"],
        values: Some(&["port", "base64"]),
        positionals: Positionals::Stop,
    },
    FlagSpec {
        bools: &["json"],
        values: None,
        positionals: Positionals::Interspersed,
    },
    FlagSpec {
        bools: &[],
        values: Some(&[]),
        positionals: Positionals::Interspersed,
    },
];

/// Arguments built from the pieces that matter (dashes, `=`, known names) and anything else.
fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        "(-{0,3})(port|base64|simulate|json|h|help|x)?(=[a-z0-9]{0,3})?",
        ".{0,12}",
        Just("--".to_string()),
        Just("-".to_string()),
    ]
}

proptest! {
    #[test]
    fn arbitrary_argv_never_panics(argv in prop::collection::vec(arg(), 0..12), which in 0usize..3) {
        let spec = &SPECS[which];
        if let Ok(flags) = Flags::parse(spec, argv.clone()) {
            prop_assert!(flags.positional().len() <= argv.len());
            for p in flags.positional() {
                prop_assert!(argv.contains(p));
            }
            let _ = flags.reject_unknown(&["port"]);
            let _ = (flags.bool("simulate"), flags.value("port"), format!("{flags:?}"));
        }
    }
}

proptest! {
    /// Whatever a value holds (dashes, `=`, line breaks), both Go forms give it back whole.
    #[test]
    fn values_come_back_whole(value in ".{0,24}") {
        let spec = &SPECS[0];
        let inline = Flags::parse(spec, vec![format!("-port={value}")]).unwrap();
        prop_assert_eq!(inline.value("port"), Some(value.as_str()));
        let separate = Flags::parse(spec, vec!["--port".to_string(), value.clone()]).unwrap();
        prop_assert_eq!(separate.value("port"), Some(value.as_str()));
    }
}
