//! Value patterns compiled once: shell-style globs and CIDR ranges.
use std::net::IpAddr;

use super::fields::canonical_ip;

/// The rule language's `glob`: `*` matches any run of characters, `/` included (the path is one flat
/// string), `?` any one character. Not the config file's [`crate::config::PathGlob`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FlatGlob {
    chars: Vec<char>,
    /// Fast form for the common shapes, decided once at compile time.
    shape: Shape,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// No wildcard: equality.
    Literal(String),
    /// `*literal`: suffix test.
    Suffix(String),
    /// `literal*`: prefix test.
    Prefix(String),
    /// `*literal*`: substring test.
    Contains(String),
    General,
}

fn shape_of(pattern: &str) -> Shape {
    let wild = |s: &str| s.contains(['*', '?']);
    if !wild(pattern) {
        return Shape::Literal(pattern.to_string());
    }
    let inner = pattern.strip_prefix('*').and_then(|r| r.strip_suffix('*'));
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*'), inner) {
        (_, _, Some(mid)) if !mid.is_empty() && !wild(mid) => Shape::Contains(mid.to_string()),
        (Some(rest), _, _) if !wild(rest) => Shape::Suffix(rest.to_string()),
        (_, Some(head), _) if !wild(head) => Shape::Prefix(head.to_string()),
        _ => Shape::General,
    }
}

impl FlatGlob {
    pub(super) fn new(pattern: &str) -> Self {
        FlatGlob {
            chars: pattern.chars().collect(),
            shape: shape_of(pattern),
        }
    }

    /// Matches without allocating: a plain string test for the common shapes, else backtracking to
    /// the last `*` on a mismatch.
    pub(super) fn matches(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Literal(l) => return text == l,
            Shape::Suffix(l) => return text.ends_with(l.as_str()),
            Shape::Prefix(l) => return text.starts_with(l.as_str()),
            Shape::Contains(l) => return text.contains(l.as_str()),
            Shape::General => {}
        }
        let p = &self.chars;
        let (mut pi, mut ti) = (0usize, 0usize);
        // Pattern index after the last `*`, and the text index that `*` currently extends to.
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = text[ti..].chars().next() {
            match p.get(pi) {
                Some('*') => {
                    star = Some((pi + 1, ti));
                    pi += 1;
                }
                Some(&pc) if pc == '?' || pc == c => {
                    pi += 1;
                    ti += c.len_utf8();
                }
                _ => match star {
                    Some((after, start)) => {
                        let skipped = text[start..].chars().next().map_or(1, char::len_utf8);
                        star = Some((after, start + skipped));
                        pi = after;
                        ti = start + skipped;
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

/// A list of globs compiled for one test against all of them (`file.path glob (credential_globs)`):
/// the common shapes are indexed so that a string that matches none, the usual case, is rejected
/// after a few byte tests and one multi-pattern scan instead of one string test per glob.
#[derive(Clone, Debug)]
pub(super) struct GlobSet {
    globs: Vec<FlatGlob>,
    /// The set matches everything (`*`).
    always: bool,
    exact: Vec<String>,
    /// Suffixes, and a bitmap of their last bytes (a string whose last byte is not in it matches none).
    suffixes: Vec<String>,
    suffix_last: ByteSet,
    /// Prefixes of two bytes or more, and a bitmap of their second bytes (first bytes are mostly `/`).
    prefixes: Vec<String>,
    prefix_second: ByteSet,
    short_prefixes: Vec<String>,
    /// `*literal*` globs.
    contains: Option<ContainsSet>,
    /// The other globs, each with the longest literal it requires, searched first.
    general: Vec<(Option<memchr::memmem::Finder<'static>>, FlatGlob)>,
}

/// Substring tests for several literals at once. Literals in paths often start alike (`/.aws/`,
/// `/.ssh/`: a `/` that every path is full of, then a `.` that most file names have), so a literal
/// is only compared where the text has its first two bytes: found by one substring search when all
/// literals start with the same two bytes (`/.` occurs in few paths; see [`find_pair`]), else by
/// scanning (SIMD) for
/// their second bytes when those are few; otherwise one Aho-Corasick scan.
#[derive(Clone, Debug)]
struct ContainsSet {
    literals: Vec<String>,
    scan: Scan,
}

#[derive(Clone, Debug)]
enum Scan {
    /// The two bytes every literal starts with.
    Pair([u8; 2]),
    /// The literals' distinct second bytes (at most 3) and their first two bytes.
    Seconds(Vec<u8>, Vec<[u8; 2]>),
    Ac(aho_corasick::AhoCorasick),
}

impl ContainsSet {
    fn new(literals: Vec<String>) -> Option<Self> {
        let mut seconds = Vec::new();
        let mut pairs = Vec::new();
        let mut usable = true;
        for l in &literals {
            match l.as_bytes() {
                [a, b, ..] => {
                    if !seconds.contains(b) {
                        seconds.push(*b);
                    }
                    if !pairs.contains(&[*a, *b]) {
                        pairs.push([*a, *b]);
                    }
                }
                _ => usable = false,
            }
        }
        let scan = match pairs[..] {
            [pair] if usable => Scan::Pair(pair),
            _ if usable && seconds.len() <= 3 => Scan::Seconds(seconds, pairs),
            _ => Scan::Ac(aho_corasick::AhoCorasick::new(&literals).ok()?),
        };
        Some(Self { literals, scan })
    }

    fn is_match(&self, text: &[u8]) -> bool {
        let literal_at = |i: usize| self.literals.iter().any(|l| text[i..].starts_with(l.as_bytes()));
        let (seconds, pairs) = match &self.scan {
            Scan::Pair(pair) => {
                let mut from = 0;
                while let Some(i) = find_pair(text, from, *pair) {
                    if literal_at(i) {
                        return true;
                    }
                    from = i + 1;
                }
                return false;
            }
            Scan::Seconds(seconds, pairs) => (seconds, pairs),
            Scan::Ac(ac) => return ac.is_match(text),
        };
        let Some(rest) = text.get(1..) else { return false };
        let at = |i: usize| {
            // rest[i] is text[i + 1]: a literal would start at text[i].
            let pair = [text[i], text[i + 1]];
            pairs.contains(&pair) && literal_at(i)
        };
        match seconds[..] {
            [a] => memchr::memchr_iter(a, rest).any(at),
            [a, b] => memchr::memchr2_iter(a, b, rest).any(at),
            [a, b, c] => memchr::memchr3_iter(a, b, c, rest).any(at),
            _ => false,
        }
    }
}

/// The first position at or after `from` where `pair` occurs in `text`. Tests eight positions at a
/// time in a word (SWAR): on path-sized texts that beats setting up a SIMD substring search.
fn find_pair(text: &[u8], from: usize, pair: [u8; 2]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of every byte of `w` equal to `b` (exactly: no false positives).
    let equal = |w: u64, b: u8| {
        let x = w ^ (ONES * u64::from(b));
        !(((x & LOW7) + LOW7) | x | LOW7)
    };
    let word = |at: usize| {
        text.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
    };
    let mut i = from;
    // Positions i..i + 8, whose pairs end by i + 9.
    while let (Some(first), Some(second)) = (word(i), word(i + 1)) {
        let m = equal(first, pair[0]) & equal(second, pair[1]);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    (i..text.len().saturating_sub(1)).find(|&j| text[j] == pair[0] && text[j + 1] == pair[1])
}

#[derive(Clone, Copy, Debug, Default)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
}

impl PartialEq for GlobSet {
    fn eq(&self, other: &Self) -> bool {
        self.globs == other.globs
    }
}

impl std::hash::Hash for GlobSet {
    /// Consistent with `eq`: the globs' patterns.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for g in &self.globs {
            g.chars.hash(state);
        }
    }
}

impl GlobSet {
    pub(super) fn new(globs: Vec<FlatGlob>) -> Self {
        let mut set = GlobSet {
            globs: Vec::new(),
            always: false,
            exact: Vec::new(),
            suffixes: Vec::new(),
            suffix_last: ByteSet::default(),
            prefixes: Vec::new(),
            prefix_second: ByteSet::default(),
            short_prefixes: Vec::new(),
            contains: None,
            general: Vec::new(),
        };
        let mut contains = Vec::new();
        for g in &globs {
            match &g.shape {
                Shape::Literal(l) => set.exact.push(l.clone()),
                Shape::Suffix(l) => match l.as_bytes().last() {
                    Some(&b) => {
                        set.suffix_last.insert(b);
                        set.suffixes.push(l.clone());
                    }
                    None => set.always = true,
                },
                Shape::Prefix(l) => match l.as_bytes().get(1) {
                    Some(&b) => {
                        set.prefix_second.insert(b);
                        set.prefixes.push(l.clone());
                    }
                    None if l.is_empty() => set.always = true,
                    None => set.short_prefixes.push(l.clone()),
                },
                Shape::Contains(l) => contains.push(l.clone()),
                Shape::General => set.general.push((required_literal(&g.chars), g.clone())),
            }
        }
        if !contains.is_empty() {
            match ContainsSet::new(contains.clone()) {
                Some(c) => set.contains = Some(c),
                // Building fails only for enormous pattern sets; the globs then stay general.
                None => set
                    .general
                    .extend(contains.iter().map(|l| (None, FlatGlob::new(&format!("*{l}*"))))),
            }
        }
        set.globs = globs;
        set
    }

    /// Whether any glob of the set matches `text` (the same as testing each in turn).
    pub(super) fn matches(&self, text: &str) -> bool {
        if self.always {
            return true;
        }
        let b = text.as_bytes();
        if let Some(&last) = b.last()
            && self.suffix_last.contains(last)
            && self.suffixes.iter().any(|s| text.ends_with(s.as_str()))
        {
            return true;
        }
        if let Some(&second) = b.get(1)
            && self.prefix_second.contains(second)
            && self.prefixes.iter().any(|p| text.starts_with(p.as_str()))
        {
            return true;
        }
        if self.short_prefixes.iter().any(|p| text.starts_with(p.as_str())) || self.exact.iter().any(|e| e == text) {
            return true;
        }
        if self.contains.as_ref().is_some_and(|c| c.is_match(b)) {
            return true;
        }
        self.general
            .iter()
            .any(|(required, g)| required.as_ref().is_none_or(|f| f.find(b).is_some()) && g.matches(text))
    }
}

/// One glob of a set, by shape, for [`super::field_index`] to merge with other tests' patterns.
pub(super) enum GlobPart<'a> {
    Exact(&'a str),
    Prefix(&'a str),
    Suffix(&'a str),
    Contains(&'a str),
    /// A glob of no simple shape.
    General(&'a FlatGlob),
}

impl GlobSet {
    /// The set's globs by shape.
    pub(super) fn parts(&self) -> impl Iterator<Item = GlobPart<'_>> {
        self.globs.iter().map(|g| match &g.shape {
            Shape::Literal(l) => GlobPart::Exact(l),
            Shape::Prefix(l) => GlobPart::Prefix(l),
            Shape::Suffix(l) => GlobPart::Suffix(l),
            Shape::Contains(l) => GlobPart::Contains(l),
            Shape::General => GlobPart::General(g),
        })
    }
}

impl FlatGlob {
    /// A finder for the glob's longest literal piece (a text without it cannot match).
    pub(super) fn required_literal(&self) -> Option<memchr::memmem::Finder<'static>> {
        required_literal(&self.chars)
    }
}

fn required_literal(chars: &[char]) -> Option<memchr::memmem::Finder<'static>> {
    let pattern: String = chars.iter().collect();
    pattern
        .split(['*', '?'])
        .max_by_key(|piece| piece.len())
        .filter(|piece| !piece.is_empty())
        .map(|piece| memchr::memmem::Finder::new(piece.as_bytes()).into_owned())
}

/// An address range. IPv4-mapped IPv6 ranges are stored as IPv4 so both spellings match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cidr {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl Cidr {
    /// Parses `addr/len` or a bare address (a single host).
    pub(super) fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let raw: IpAddr = addr.parse().ok()?;
        let max = if raw.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        if len > max {
            return None;
        }
        let canon = canonical_ip(raw);
        let len = match (raw, canon) {
            (IpAddr::V6(_), IpAddr::V4(_)) => len.checked_sub(96)?,
            _ => len,
        };
        Some(Cidr {
            addr: mask(canon, len),
            prefix_len: len,
        })
    }

    pub(super) fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix_len) == self.addr
    }
}

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_fast_shapes_agree_with_the_general_matcher() {
        let general = |p: &str, t: &str| {
            FlatGlob {
                chars: p.chars().collect(),
                shape: Shape::General,
            }
            .matches(t)
        };
        let cases = [
            ("*/.aws/credentials", "/home/a/.aws/credentials"),
            ("*/.aws/credentials", "/home/a/.aws/credentials.bak"),
            ("/run/secrets/*", "/run/secrets/token"),
            ("/run/secrets/*", "/run/other"),
            ("*secret*", "/x/my-secret-file"),
            ("*secret*", "/x/public"),
            ("exact", "exact"),
            ("exact", "exactly"),
            ("**", ""),
            ("*", "anything"),
        ];
        for (p, t) in cases {
            assert_eq!(FlatGlob::new(p).matches(t), general(p, t), "{p} vs {t}");
        }
        assert!(matches!(shape_of("*/.aws/credentials"), Shape::Suffix(_)));
        assert!(matches!(shape_of("/a/*/b"), Shape::General));
    }

    #[test]
    fn glob_sets_agree_with_testing_each_glob() {
        let lists: [&[&str]; 5] = [
            &[
                "*/.aws/credentials",
                "*/.aws/config",
                "*/.config/gcloud/*",
                "*/.azure/*",
                "*/.kube/config",
                "*/.ssh/id_*",
                "*/.docker/config.json",
                "/var/run/secrets/*",
                "/run/secrets/*",
            ],
            &["exact", "/a*", "*", "x"],
            &["/home/*/.ssh/id_*", "a?c", "*b*c", "é*", "*é"],
            &["", "?", "**"],
            &["/", "*/", "/*/"],
        ];
        let texts = [
            "",
            "/",
            "x",
            "exact",
            "exactly",
            "/home/u/.aws/credentials",
            "/home/u/.aws/credentials.bak",
            "/home/u/.config/gcloud/creds.db",
            "/home/bob/.ssh/id_ed25519",
            "/home/bob/.ssh/known_hosts",
            "/run/secrets/token",
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "/usr/lib/python3.12/os.py",
            "abc",
            "ac",
            "xxbyyc",
            "éa",
            "aé",
            "/a",
            "a/",
        ];
        for list in lists {
            let globs: Vec<FlatGlob> = list.iter().map(|p| FlatGlob::new(p)).collect();
            let set = GlobSet::new(globs.clone());
            for t in texts {
                assert_eq!(set.matches(t), globs.iter().any(|g| g.matches(t)), "{list:?} vs {t:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_sets_agree_with_testing_each_glob_on_arbitrary_input(
            patterns in proptest::collection::vec("[a/.*?é]{0,6}", 0..6),
            text in "[a/.bé]{0,10}",
        ) {
            let globs: Vec<FlatGlob> = patterns.iter().map(|p| FlatGlob::new(p)).collect();
            let set = GlobSet::new(globs.clone());
            proptest::prop_assert_eq!(set.matches(&text), globs.iter().any(|g| g.matches(&text)));
        }
    }

    proptest::proptest! {
        #[test]
        fn find_pair_finds_the_first_occurrence(
            text in proptest::collection::vec(proptest::sample::select(vec![b'/', b'.', b'a', 0x80, 0xff]), 0..40),
            from in 0usize..42,
            a in proptest::sample::select(vec![b'/', b'.', 0x80]),
            b in proptest::sample::select(vec![b'/', b'.', 0xff]),
        ) {
            let naive = (from..text.len().saturating_sub(1)).find(|&j| text[j] == a && text[j + 1] == b);
            proptest::prop_assert_eq!(find_pair(&text, from, [a, b]), naive);
        }
    }

    #[test]
    fn globs() {
        let g = FlatGlob::new("/home/*/.ssh/id_*");
        assert!(g.matches("/home/bob/.ssh/id_ed25519"));
        assert!(!g.matches("/home/bob/.ssh/known_hosts"));
        assert!(FlatGlob::new("a?c").matches("abc"));
        assert!(!FlatGlob::new("a?c").matches("ac"));
        assert!(FlatGlob::new("*").matches(""));
        assert!(FlatGlob::new("exact").matches("exact"));
        assert!(!FlatGlob::new("exact").matches("exactly"));
        assert!(FlatGlob::new("*/.aws/credentials").matches("/home/é/.aws/credentials"));
        assert!(!FlatGlob::new("*/.aws/credentials").matches("/home/u/.aws/credentials.bak"));
        assert!(FlatGlob::new("a*b*c").matches("axxbyyc"));
        assert!(!FlatGlob::new("a*b*c").matches("axxbyy"));
        assert!(FlatGlob::new("é?").matches("éü"));
    }

    #[test]
    fn cidrs_match_mapped_and_v6_addresses() {
        let c = Cidr::parse("169.254.0.0/16").unwrap();
        assert!(c.contains("169.254.169.254".parse().unwrap()));
        assert!(c.contains("::ffff:169.254.169.254".parse().unwrap()));
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        let mapped = Cidr::parse("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(mapped, Cidr::parse("10.0.0.0/8").unwrap());
        let v6 = Cidr::parse("fd00:ec2::254").unwrap();
        assert!(v6.contains("fd00:ec2:0:0::254".parse().unwrap()));
        assert!(!v6.contains("fd00:ec2::255".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
    }
}
