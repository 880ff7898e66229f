//! Rule bombs and malformed rule input: lists and macros that double at each level, long chains,
//! lists that contain themselves, typos in list items, bad globs, bad encodings, huge files. Each
//! must end in a `file:line:col` error (or a working rule set) after work linear in the input.
//! The work is bounded by the compiler's limits, which these tests see fire; how long a compile
//! takes is the rule benchmark's to measure (`cargo xtask bench --only rules`), not a test's.
use std::fmt::Write as _;

use super::{RuleSet, compile::limits};

fn compile(text: &str) -> Result<RuleSet, String> {
    RuleSet::from_sources(&[("bomb.yaml".into(), text.into())]).map_err(|e| e.to_string())
}

fn doubling_lists(levels: usize) -> String {
    let mut y = String::from("- list: l0\n  items: [a, b]\n");
    for i in 1..levels {
        write!(y, "- list: l{i}\n  items: [l{p}, l{p}]\n", p = i - 1).unwrap();
    }
    write!(y, "- rule: r\n  condition: proc.name in (l{})\n", levels - 1).unwrap();
    y
}

#[test]
fn doubling_lists_stop_at_the_item_limit() {
    let r = compile(&doubling_lists(40));
    let err = r.unwrap_err();
    // 2^17 items > 100 000: list l16 is the first too large, named where it is defined.
    assert!(
        err.contains("bomb.yaml:33:3: list `l16` is too large") && err.contains(&limits::LIST_ITEMS.to_string()),
        "{err}"
    );
    // A few levels are fine, and match.
    let r = compile(&doubling_lists(10));
    let mut set = r.unwrap();
    let ev = super::tests::exec("/bin/b", &["b"], 1);
    assert_eq!(super::tests::fired(&mut set, &ev), ["r"]);
}

fn doubling_macros(levels: usize) -> String {
    let mut y = String::from("- macro: m0\n  condition: proc.name = a\n");
    for i in 1..levels {
        write!(y, "- macro: m{i}\n  condition: m{p} or m{p}\n", p = i - 1).unwrap();
    }
    write!(y, "- rule: r\n  condition: m{}\n", levels - 1).unwrap();
    y
}

#[test]
fn doubling_macros_stop_at_the_condition_limit() {
    let r = compile(&doubling_macros(60));
    let err = r.unwrap_err();
    // m_i expands to 2^(i+1) tests and values: m16 (2^17) is the first past 100 000, reported at its
    // second reference to m15 (line 34, column 21), once.
    assert!(
        err.contains("bomb.yaml:34:21: condition too large: macro `m15`"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn macro_chains_compile_in_linear_time() {
    // m_i: m_{i-1} or proc.name = x_i — 3000 levels, expanded once for the rule: 3000 tests.
    let mut y = String::from("- macro: m0\n  condition: proc.name = x0\n");
    for i in 1..3000 {
        write!(y, "- macro: m{i}\n  condition: m{} or proc.name = x{i}\n", i - 1).unwrap();
    }
    y.push_str("- rule: r\n  condition: m2999 and evt.kind = exec\n");
    let r = compile(&y);
    let mut set = r.unwrap();
    let ev = super::tests::exec("/bin/x1234", &["x1234"], 1);
    assert_eq!(super::tests::fired(&mut set, &ev), ["r"]);
    // A chain of bare references, and a chain past the nesting limit.
    let bare = |n: usize| {
        let mut y = String::from("- macro: c0\n  condition: proc.name = z\n");
        for i in 1..n {
            write!(y, "- macro: c{i}\n  condition: c{}\n", i - 1).unwrap();
        }
        write!(y, "- rule: r\n  condition: c{}\n", n - 1).unwrap();
        y
    };
    let r = compile(&bare(3000));
    assert!(r.is_ok(), "{:?}", r.err());
    let r = compile(&bare(limits::NESTING + 10));
    let err = r.unwrap_err();
    assert!(err.contains("macros nested too deeply"), "{err}");
}

#[test]
fn the_rule_set_as_a_whole_is_bounded() {
    // 40 rules that each inline a 90 000-item list stay under the condition limit but not under the
    // total limit.
    let mut y = String::from("- list: big\n  items: [");
    for i in 0..90_000 {
        write!(y, "v{i},").unwrap();
    }
    y.push_str("]\n");
    for i in 0..40 {
        write!(y, "- rule: r{i}\n  condition: proc.name in (big)\n").unwrap();
    }
    let r = compile(&y);
    let err = r.unwrap_err();
    assert!(err.contains("the rule set is too large"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn lists_that_include_themselves_are_errors() {
    let r = compile("- list: a\n  items: [x, a]\n- rule: r\n  condition: proc.name in (a)\n");
    let err = r.unwrap_err();
    assert!(
        err.contains("bomb.yaml:2:14: list `a` includes itself (a → a)"),
        "{err}"
    );
    let r = compile(
        "- list: a\n  items: [b]\n- list: b\n  items: [c]\n- list: c\n  items: [a, y]\n- rule: r\n  condition: proc.name in (b)\n",
    );
    let err = r.unwrap_err();
    assert!(
        err.contains("bomb.yaml:6:11: list `c` includes itself (a → b → c → a)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn misspelt_list_names_in_list_items_are_errors() {
    let y = "- list: shells\n  items: [sh, bash]\n- list: tools\n  items: [shellz, curl]\n- rule: r\n  condition: proc.name in (tools)\n";
    let r = compile(y);
    let err = r.unwrap_err();
    assert!(
        err.contains("bomb.yaml:4:11: unknown list `shellz` in the items of list `tools` (did you mean `shells`?"),
        "{err}"
    );
    // Quoted, it is the literal it says.
    let r = compile(&y.replace("[shellz,", "[\"shellz\","));
    assert!(r.is_ok(), "{:?}", r.err());
}

#[test]
fn globs_with_syntax_the_engine_lacks_are_errors() {
    for (glob, c) in [("/tmp/{a,b", '{'), ("/tmp/{a,b}", '{'), ("/tmp/[ab]*", '[')] {
        let r = compile(&format!("- rule: r\n  condition: file.path glob \"{glob}\"\n"));
        let err = r.unwrap_err();
        assert!(
            err.contains(&format!("bomb.yaml:2:29: glob `{glob}`: `{c}` is not glob syntax")),
            "{err}"
        );
    }
    let r = compile("- rule: r\n  condition: file.path glob (\"/tmp/*\", /x/?)\n");
    assert!(r.is_ok(), "{:?}", r.err());
}

#[test]
fn rule_files_are_read_with_limits_and_positions() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    let mut bytes = b"- rule: r\n  desc: caf".to_vec();
    bytes.push(0xe9); // Latin-1 é
    bytes.extend_from_slice(b"\n  condition: evt.kind = exec\n");
    std::fs::write(&p, &bytes).unwrap();
    let err = RuleSet::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.ends_with("bad.yaml:2:12: invalid UTF-8: rule files must be UTF-8 text"),
        "{err}"
    );
    std::fs::write(&p, vec![b'#'; (super::MAX_RULE_FILE_BYTES + 1) as usize]).unwrap();
    let err = RuleSet::load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("bad.yaml:1:1: cannot read: larger than"), "{err}");
}

#[test]
fn many_errors_are_reported_quickly_and_shown_in_part() {
    // 20 000 rules with an unknown field each, in one 1.3 MB file.
    let mut y = String::new();
    for i in 0..20_000 {
        write!(y, "- rule: r{i}\n  condition: proc.nam = x\n").unwrap();
    }
    let r = compile(&y);
    let err = r.unwrap_err();
    assert!(err.ends_with("… and 19800 more errors"), "{}", &err[err.len() - 200..]);
}

#[test]
fn deep_rule_sets_compile_on_a_stack_of_their_own() {
    // The compile runs on its own thread with a large stack: a deep but valid input works there even
    // when the caller's thread is small.
    let y = {
        let mut y = String::from("- macro: c0\n  condition: proc.name = z\n");
        for i in 1..5000 {
            write!(y, "- macro: c{i}\n  condition: (c{})\n", i - 1).unwrap();
        }
        y.push_str("- rule: r\n  condition: c4999\n");
        y
    };
    let t = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || compile(&y).map(|s| s.rule_count()))
        .unwrap();
    assert_eq!(t.join().unwrap(), Ok(1));
}

/// Pieces rule files are made of, for the property tests below.
fn piece() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        Just("- rule: r\n  condition: ".to_string()),
        Just("- macro: m\n  condition: ".to_string()),
        Just("- list: l\n  items: [".to_string()),
        Just("\n".to_string()),
        Just("proc.name in (l, m) ".to_string()),
        Just("m or not (m and evt.kind = exec) ".to_string()),
        Just("file.path glob \"/tmp/*\" ".to_string()),
        Just("\"".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("]".to_string()),
        Just("  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[l]]\n".to_string()),
        "[ -~]{0,12}",
        any::<String>(),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

    /// Any text, and any jumble of rule-file pieces, compiles to a rule set or to errors with a
    /// position inside the file — never a panic. (These stand in for a `cargo fuzz` target of the
    /// rule parser: cargo-fuzz is not installed on the build machines.)
    #[test]
    fn arbitrary_rule_files_never_panic(pieces in proptest::collection::vec(piece(), 0..24)) {
        let text: String = pieces.concat();
        if let Err(e) = RuleSet::from_sources(&[("p.yaml".into(), text.clone())]) {
            let lines = text.lines().count().max(1) + 1;
            for err in &e.errors {
                proptest::prop_assert!(err.at.line >= 1 && err.at.line <= lines, "{err} in {text:?}");
                proptest::prop_assert!(!err.message.contains("internal error"), "{err}");
            }
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_rule_file_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), &bytes).unwrap();
        let _ = RuleSet::load_dir(dir.path());
    }
}
